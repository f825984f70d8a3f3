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
    next: formatSol(Math.floor((r.unsplit * c.share_bps) / 10_000)),
    balance: formatSol(c.balance),
  }));
}

/** The vault in one sentence. */
export function vaultText(r: RoyaltiesReport): string {
  if (r.unsplit === 0) return "Nothing new to distribute: every lamport that came in has been split.";
  return `${formatSol(r.unsplit)} came in since the last split: distribute to pay every creator their share.`;
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
