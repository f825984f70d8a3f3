import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { expect, test } from "vitest";
import { backend } from "../../test/backend";
import ExplorerLink from "./ExplorerLink.svelte";

const URL = "https://explorer.solana.com/address/Mint0?cluster=devnet";

test("opens the explorer through the app, not in the webview", async () => {
  const calls = backend({ open_explorer: () => null });
  const user = userEvent.setup();
  render(ExplorerLink, { url: URL });
  await user.click(screen.getByRole("link", { name: "Explorer" }));
  expect(calls).toEqual([{ cmd: "open_explorer", args: { url: URL } }]);
});

test("a network without an explorer shows no link", () => {
  render(ExplorerLink, { url: null });
  expect(screen.queryByRole("link")).toBeNull();
});
