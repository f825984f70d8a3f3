import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { expect, test } from "vitest";
import { studio } from "../studio.svelte";
import NetworkLine from "./NetworkLine.svelte";

test("names the network and leads to Mint to change it", async () => {
  const user = userEvent.setup();
  render(NetworkLine, { choice: { network: "devnet", customUrl: "", wallet: "" }, testid: "net" });
  expect(screen.getByTestId("net")).toHaveTextContent("Devnet");
  await user.click(screen.getByRole("button", { name: "change on Mint" }));
  expect(studio.screen).toBe("mint");
});
