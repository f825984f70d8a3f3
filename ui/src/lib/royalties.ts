/** The Royalties screen's logic: the vault and each creator's share in words, the history's
 *  lines, and the calls to src-tauri/src/pipeline.rs. */

import { invoke } from "@tauri-apps/api/core";
import type { ChainRequest, RoyaltiesReport, RoyaltiesView, RoyaltyEvent } from "./bindings";
import { toCommandError } from "./errors";
import { formatSol } from "./mint";

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (error) {
    throw toCommandError(error);
  }
}

/** "25 %", "33.33 %" from basis points. */
export function percent(bps: number): string {
  return `${Number((bps / 100).toFixed(2))} %`;
}

export interface CreatorRow {
  address: string;
  share: string;
  /** Split to them, waiting in the vault. */
  owed: string;
  /** What they would get of the vault's not-yet-split lamports. */
  next: string;
  balance: string;
}

/** One row per creator. The "next" column is what distributing now would add, by share
 *  (the program rounds each share down; the rest stays for the next split). */
export function creatorRows(r: RoyaltiesReport): CreatorRow[] {
  return r.creators.map((c) => ({
    address: c.address,
    share: percent(c.share_bps),
    owed: formatSol(c.owed),
    next: formatSol(shareOfUnsplit(r, c.share_bps)),
    balance: formatSol(c.balance),
  }));
}

/** A creator's part of the vault's not-yet-split lamports, rounded down as the program does. */
function shareOfUnsplit(r: RoyaltiesReport, shareBps: number): number {
  return Math.floor((r.unsplit * shareBps) / 10_000);
}

/** Lamports already split to the creators (mint proceeds, earlier splits), still in the vault. */
export function owedTotal(r: RoyaltiesReport): number {
  return r.creators.reduce((sum, c) => sum + c.owed, 0);
}

/** Exactly what distributing now pays out, as the program computes it: every creator gets
 *  what they are owed plus their share of the unsplit lamports, rounded down (the rest of
 *  the unsplit lamports stays in the vault for the next split). */
export function distributeTotal(r: RoyaltiesReport): number {
  return r.creators.reduce((sum, c) => sum + c.owed + shareOfUnsplit(r, c.share_bps), 0);
}

/** Whether distributing now pays anyone anything: something is owed, or enough came in
 *  that a share of it rounds to at least one lamport. */
export function canDistribute(r: RoyaltiesReport): boolean {
  return distributeTotal(r) > 0;
}

/** The vault in one sentence: what the creators are already owed, what came in since the
 *  last split, and what distributing pays. */
export function vaultText(r: RoyaltiesReport): string {
  const owed = owedTotal(r);
  const total = distributeTotal(r);
  if (owed === 0 && r.unsplit === 0) {
    return "Nothing new to distribute: every lamport that came in has been split and paid out.";
  }
  const owedPart = `The creators are owed ${formatSol(owed)} (mint proceeds and earlier splits, kept in the vault)`;
  const unsplitPart = `${formatSol(r.unsplit)} came in since the last split`;
  if (total === 0) {
    return `${unsplitPart}: too little to split by share yet; it stays in the vault until more comes in.`;
  }
  if (r.unsplit === 0) return `${owedPart}: distribute to pay them ${formatSol(total)}.`;
  if (owed === 0) return `${unsplitPart}: distribute to pay every creator their share, ${formatSol(total)} in all.`;
  return `${owedPart}, and ${unsplitPart}: distribute to pay them ${formatSol(total)} in all.`;
}

/** A history line in words. */
export function historyText(e: RoyaltyEvent): string {
  const what = e.kind === "payment" ? `Sale royalty of ${formatSol(e.lamports)} paid into the vault` : "Vault distributed to the creators";
  switch (e.status) {
    case "done":
      return what;
    case "failed":
      return `${what}: failed${e.error ? ` (${e.error})` : ""}`;
    default:
      return `${what}: sent, not confirmed yet (the next run settles it)`;
  }
}

/** The royalty a sale of `priceLamports` pays at `bps`. */
export function royaltyOf(priceLamports: number, bps: number): number {
  return Math.floor((priceLamports * bps) / 10_000);
}

export function royaltiesShow(chain: ChainRequest): Promise<RoyaltiesView> {
  return call("royalties_show", { chain });
}

/** Sandbox only: pays a simulated sale's royalty (`lamports`) into the vault. */
export function royaltiesPay(chain: ChainRequest, lamports: number): Promise<RoyaltiesView> {
  return call("royalties_pay", { chain, lamports });
}

export function royaltiesDistribute(chain: ChainRequest): Promise<RoyaltiesView> {
  return call("royalties_distribute", { chain });
}
