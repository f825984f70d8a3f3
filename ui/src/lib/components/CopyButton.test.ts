import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { expect, test, vi } from "vitest";
import CopyButton from "./CopyButton.svelte";

test("copies its text, and only the last button used says Copied", async () => {
  const user = userEvent.setup();
  render(CopyButton, { text: "QmImages", "aria-label": "Copy images CID" });
  render(CopyButton, { text: "Art1st", label: "Copy address" });
  const images = screen.getByRole("button", { name: "Copy images CID" });
  const address = screen.getByRole("button", { name: "Copy address" });

  await user.click(images);
  expect(await navigator.clipboard.readText()).toBe("QmImages");
  expect(images).toHaveTextContent("Copied");

  await user.click(address);
  expect(await navigator.clipboard.readText()).toBe("Art1st");
  expect(address).toHaveTextContent("Copied");
  expect(images).toHaveTextContent(/^Copy$/);
});

test("a copy the system refuses does not claim success", async () => {
  const user = userEvent.setup();
  vi.spyOn(navigator.clipboard, "writeText").mockRejectedValue(new Error("not allowed"));
  render(CopyButton, { text: "Mint0" });
  const button = screen.getByRole("button", { name: "Copy" });
  await user.click(button);
  await vi.waitFor(() => expect(navigator.clipboard.writeText).toHaveBeenCalledWith("Mint0"));
  expect(button).toHaveTextContent(/^Copy$/);
});
