import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, test, vi } from "vitest";
import type { RoyaltiesReport, RoyaltiesView } from "../lib/bindings";
import { saveChoice } from "../lib/mint";
import { backend } from "../test/backend";
import { MOTHS } from "../test/fixtures";
import Royalties from "./Royalties.svelte";

const report = (unsplit: number, extra: Partial<RoyaltiesReport> = {}): RoyaltiesReport => ({
  collection: "Coll",
  vault: "VaultAddressxxxxxxxx",
  vault_balance: 890_880 + unsplit,
  unsplit,
  royalty_bps: 500,
  minted: 12,
  creators: [{ address: "Art1stAddressxxxxxxx", share_bps: 10_000, owed: 0, balance: 1_000_000_000 }],
  paid_in: null,
  payment_signature: null,
  distributed: null,
  distribution_signature: null,
  ...extra,
});
const ev = (id: number, kind: string, lamports: number) => ({ id, kind, lamports, status: "done", signature: null, error: null, at: 0, explorer_url: null });

describe("Royalties", () => {
  test("a simulated sale fills the vault; distribute empties it and the history grows", async () => {
    let view: RoyaltiesView = { report: report(0), history: [] };
    const calls = backend({
      royalties_show: () => view,
      royalties_pay: (args) => {
        view = { report: report(args.lamports as number, { paid_in: args.lamports as number }), history: [ev(1, "payment", args.lamports as number)] };
        return view;
      },
      royalties_distribute: () => {
        view = { report: report(0, { distributed: 100_000_000 }), history: [ev(2, "distribution", 0), ev(1, "payment", 100_000_000)] };
        return view;
      },
    });
    const user = userEvent.setup();
    render(Royalties, { project: MOTHS });
    expect(await screen.findByTestId("vault-text")).toHaveTextContent("Nothing new");
    expect(screen.getByTestId("distribute")).toBeDisabled();
    await user.clear(screen.getByTestId("sale-price"));
    await user.type(screen.getByTestId("sale-price"), "2");
    await user.click(screen.getByTestId("pay"));
    expect(await screen.findByTestId("royalties-note")).toHaveTextContent("paid 0.1 SOL of royalties");
    expect(calls.find((c) => c.cmd === "royalties_pay")!.args.lamports).toBe(100_000_000);
    expect(screen.getByTestId("vault-text")).toHaveTextContent("0.1 SOL came in");
    await user.click(screen.getByTestId("distribute"));
    await vi.waitFor(() => expect(screen.getByTestId("royalties-note")).toHaveTextContent("Paid 0.1 SOL to the creators."));
    expect(screen.getAllByTestId("history-row").map((r) => r.dataset.kind)).toEqual(["distribution", "payment"]);
    expect(screen.getAllByTestId("creator-row")[0]).toHaveTextContent("100 %");
  });

  test("mint proceeds owed to the creators can be distributed; the button names exactly what it pays", async () => {
    const owed = (lamports: number) => [{ address: "Art1stAddressxxxxxxx", share_bps: 10_000, owed: lamports, balance: 0 }];
    let view: RoyaltiesView = { report: report(0, { creators: owed(1_200_000_000) }), history: [] };
    const calls = backend({
      royalties_show: () => view,
      royalties_pay: (args) => {
        view = { report: report(args.lamports as number, { creators: owed(1_200_000_000), paid_in: args.lamports as number }), history: [] };
        return view;
      },
      royalties_distribute: () => {
        view = { report: report(0, { distributed: 1_250_000_000 }), history: [] };
        return view;
      },
    });
    const user = userEvent.setup();
    render(Royalties, { project: MOTHS });
    expect(await screen.findByTestId("vault-text")).toHaveTextContent("The creators are owed 1.2 SOL");
    expect(screen.getByTestId("distribute")).toBeEnabled();
    expect(screen.getByTestId("distribute")).toHaveTextContent("Distribute 1.2 SOL");
    // A 1 SOL sale at 5 % adds 0.05 SOL: the button now pays both.
    await user.click(screen.getByTestId("pay"));
    await vi.waitFor(() => expect(screen.getByTestId("distribute")).toHaveTextContent("Distribute 1.25 SOL"));
    expect(screen.getByTestId("vault-text")).toHaveTextContent("0.05 SOL came in since the last split");
    await user.click(screen.getByTestId("distribute"));
    await vi.waitFor(() => expect(screen.getByTestId("royalties-note")).toHaveTextContent("Paid 1.25 SOL to the creators."));
    expect(calls.filter((c) => c.cmd === "royalties_distribute")).toHaveLength(1);
    expect(screen.getByTestId("vault-text")).toHaveTextContent("Nothing new to distribute");
    expect(screen.getByTestId("distribute")).toBeDisabled();
  });

  test("off the Sandbox there is no simulated sale", async () => {
    saveChoice(MOTHS.root, { network: "devnet", customUrl: "", wallet: "" });
    const calls = backend({ royalties_show: () => ({ report: report(5), history: [] }) });
    render(Royalties, { project: MOTHS });
    await screen.findByTestId("vault");
    expect(screen.queryByTestId("sale")).toBeNull();
    expect(calls[0].args.chain).toEqual({ network: "devnet", wallet: null });
  });
});
