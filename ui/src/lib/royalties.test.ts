import { describe, expect, test } from "vitest";
import type { RoyaltiesReport, RoyaltyEvent } from "./bindings";
import {
  canDistribute,
  creatorRows,
  distributeTotal,
  historyText,
  percent,
  royaltiesDistribute,
  royaltiesPay,
  royaltiesShow,
  royaltyOf,
  vaultText,
} from "./royalties";
import { backend, fail } from "../test/backend";
import { commandError } from "../test/fixtures";

const REPORT: RoyaltiesReport = {
  collection: "Coll",
  vault: "Vault",
  vault_balance: 1_000_890_880,
  unsplit: 1_000_000_000,
  royalty_bps: 500,
  minted: 12,
  creators: [
    { address: "Ada", share_bps: 7_000, owed: 0, balance: 3_000_000_000 },
    { address: "Bob", share_bps: 3_000, owed: 15_000_000, balance: 0 },
  ],
  paid_in: null,
  payment_signature: null,
  distributed: null,
  distribution_signature: null,
};

const event = (kind: string, status: string, extra: Partial<RoyaltyEvent> = {}): RoyaltyEvent => ({
  id: 1,
  kind,
  lamports: 50_000_000,
  status,
  signature: null,
  error: null,
  at: 0,
  explorer_url: null,
  ...extra,
});

describe("royalties logic", () => {
  test("shares and what the next split pays each creator", () => {
    expect(percent(500)).toBe("5 %");
    expect(percent(3_333)).toBe("33.33 %");
    expect(creatorRows(REPORT)).toEqual([
      { address: "Ada", share: "70 %", owed: "0 SOL", next: "0.7 SOL", balance: "3 SOL" },
      { address: "Bob", share: "30 %", owed: "0.015 SOL", next: "0.3 SOL", balance: "0 SOL" },
    ]);
  });

  test("the vault and the history in words", () => {
    expect(vaultText(REPORT)).toContain("1 SOL came in");
    // Bob is still owed 0.015 SOL: that is something to distribute (item 1 changed this).
    expect(vaultText({ ...REPORT, unsplit: 0 })).toContain("owed 0.015 SOL");
    expect(historyText(event("payment", "done"))).toBe("Sale royalty of 0.05 SOL paid into the vault");
    expect(historyText(event("distribution", "done"))).toBe("Vault distributed to the creators");
    expect(historyText(event("distribution", "failed", { error: "vault empty" }))).toBe(
      "Vault distributed to the creators: failed (vault empty)",
    );
    expect(historyText(event("payment", "sending"))).toContain("not confirmed yet");
  });

  test("distributing pays what is owed plus each creator's rounded-down share of the unsplit lamports", () => {
    // Right after minting 12 at 0.1 SOL: the mint proceeds are owed, nothing is unsplit.
    const minted: RoyaltiesReport = {
      ...REPORT,
      unsplit: 0,
      creators: [{ address: "Ada", share_bps: 10_000, owed: 1_200_000_000, balance: 0 }],
    };
    expect(distributeTotal(minted)).toBe(1_200_000_000);
    expect(canDistribute(minted)).toBe(true);
    expect(vaultText(minted)).toBe(
      "The creators are owed 1.2 SOL (mint proceeds and earlier splits, kept in the vault): distribute to pay them 1.2 SOL.",
    );
    // Then a simulated sale's 0.05 SOL royalty: distributing pays both, 1.25 SOL.
    const sold = { ...minted, unsplit: 50_000_000 };
    expect(distributeTotal(sold)).toBe(1_250_000_000);
    expect(vaultText(sold)).toContain("owed 1.2 SOL");
    expect(vaultText(sold)).toContain("0.05 SOL came in since the last split");
    expect(vaultText(sold)).toContain("pay them 1.25 SOL in all");
    // Two creators: owed 0.015 + floor(1 SOL x 70 %) + floor(1 SOL x 30 %).
    expect(distributeTotal(REPORT)).toBe(1_015_000_000);
    // Each share rounds down, as the program does: 7 lamports at 70/30 pay 4 + 2.
    expect(distributeTotal({ ...REPORT, unsplit: 7, creators: REPORT.creators.map((c) => ({ ...c, owed: 0 })) })).toBe(6);
    // Dust that rounds to nothing for everyone pays nothing: the button stays off.
    const dust = { ...REPORT, unsplit: 1, creators: REPORT.creators.map((c) => ({ ...c, owed: 0 })) };
    expect(distributeTotal(dust)).toBe(0);
    expect(canDistribute(dust)).toBe(false);
    expect(vaultText(dust)).toContain("too little to split");
    // Nothing owed, nothing unsplit.
    const empty = { ...dust, unsplit: 0 };
    expect(canDistribute(empty)).toBe(false);
    expect(vaultText(empty)).toContain("Nothing new to distribute");
  });

  test("a sale's royalty", () => {
    expect(royaltyOf(1_000_000_000, 500)).toBe(50_000_000);
    expect(royaltyOf(3, 500)).toBe(0);
  });
});

describe("royalties commands (mocked IPC)", () => {
  test("show, pay and distribute", async () => {
    const chain = { network: "sandbox", wallet: null };
    const view = { report: REPORT, history: [] };
    const calls = backend({
      royalties_show: () => view,
      royalties_pay: () => ({ report: { ...REPORT, paid_in: 5 }, history: [event("payment", "done")] }),
      royalties_distribute: () => ({ report: { ...REPORT, distributed: 7, unsplit: 0 }, history: [] }),
    });
    expect(await royaltiesShow(chain)).toEqual(view);
    expect((await royaltiesPay(chain, 5)).report.paid_in).toBe(5);
    expect((await royaltiesDistribute(chain)).report.distributed).toBe(7);
    expect(calls[1].args).toEqual({ chain, lamports: 5 });
  });

  test("errors reach the screen as they are", async () => {
    backend({ royalties_pay: fail(commandError("invalidInput", "A simulated sale only exists in the Sandbox.")) });
    await expect(royaltiesPay({ network: "devnet", wallet: null }, 5)).rejects.toMatchObject({ kind: "invalidInput" });
  });
});
