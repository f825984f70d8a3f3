/** The Collection screen's calls (src-tauri/src/collection.rs) and the logic behind the
 *  screen, kept out of the component so it is tested on its own. */

import { invoke } from "@tauri-apps/api/core";
import type {
  CollectionDoc,
  CollectionSpec,
  PlanReport,
  Problem,
  QuotaLine,
  StagePreview,
  Unlock,
  UnlockPlan,
} from "./bindings";
import { toCommandError } from "./errors";

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (error) {
    throw toCommandError(error);
  }
}

/** The open project's collection.toml, or the demo template when it has none yet. */
export function collectionLoad(): Promise<CollectionDoc> {
  return call("collection_load");
}

/** Parses and validates the editor's text: every problem, each at its field path. */
export function collectionCheck(text: string): Promise<CollectionDoc> {
  return call("collection_check", { text });
}

/** Writes the text to the project's collection.toml as it is, and reports on it. */
export function collectionSave(text: string): Promise<CollectionDoc> {
  return call("collection_save", { text });
}

/** A spec edited in the form, written over `text` (the editor's text it was read from):
 *  only the changed values change; comments and key order are kept. */
export function collectionRender(text: string, spec: CollectionSpec): Promise<CollectionDoc> {
  return call("collection_render", { text, spec });
}

/** Plans the text: quotas asked vs got, uniqueness, conflicts. */
export function collectionPlan(text: string): Promise<PlanReport> {
  return call("collection_plan", { text });
}

/** Every stage of item `index` (0-based), drawn small, as PNG data URLs. */
export function collectionPreview(text: string, index: number, side?: number): Promise<StagePreview[]> {
  return call("collection_preview", { text, index, side: side ?? null });
}

/** The problems at `path` or inside it (`creators` has `creators[0].address` too). */
export function problemsAt(problems: readonly Problem[], path: string): Problem[] {
  return problems.filter(
    (p) => p.path === path || p.path.startsWith(`${path}.`) || p.path.startsWith(`${path}[`),
  );
}

/** The problems at exactly `path`. */
export function problemsExactly(problems: readonly Problem[], path: string): Problem[] {
  return problems.filter((p) => p.path === path);
}

/** `9 500` style grouping, as the Rust messages write numbers. */
export function group(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, " ");
}

/** What the creators' shares add up to, and whether that is the required 10 000 bps. */
export function sharesTotal(spec: CollectionSpec): { bps: number; ok: boolean; text: string } {
  const bps = spec.creators.reduce((sum, c) => sum + c.share_bps, 0);
  return { bps, ok: bps === 10_000, text: `${group(bps)} of 10 000 bps (${bps / 100} %)` };
}

/** `500` -> `5 %`. */
export function bpsPercent(bps: number): string {
  return `${bps / 100} %`;
}

/** Lamports as SOL, exactly (no floating point): 1500000000 -> "1.5". */
export function lamportsToSol(lamports: number | bigint): string {
  const l = BigInt(lamports);
  const whole = l / 1_000_000_000n;
  const frac = (l % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : `${whole}`;
}

/** 90061 -> "1 d 1 h 1 min 1 s"; 604800 -> "7 days". */
export function formatDuration(seconds: number): string {
  const units: [number, string, string][] = [
    [604_800, "week", "weeks"],
    [86_400, "day", "days"],
    [3_600, "hour", "hours"],
    [60, "minute", "minutes"],
    [1, "second", "seconds"],
  ];
  const parts: string[] = [];
  let left = seconds;
  for (const [size, one, many] of units) {
    const n = Math.floor(left / size);
    if (n > 0) {
      parts.push(`${n} ${n === 1 ? one : many}`);
      left -= n * size;
    }
  }
  return parts.length ? parts.join(" ") : "0 seconds";
}

/** An unlock rule in words, from the plan (numbers) or the spec (as typed). */
export function describeUnlock(unlock: UnlockPlan | Unlock): string {
  if (typeof unlock === "string") {
    return { mint: "at mint", owner: "when the owner triggers it", creator: "when the creator triggers it" }[unlock];
  }
  if ("kind" in unlock) {
    switch (unlock.kind) {
      case "mint":
        return "at mint";
      case "owner":
        return "when the owner triggers it";
      case "creator":
        return "when the creator triggers it";
      case "after_mint":
        return `${formatDuration(unlock.seconds)} after mint`;
      case "at":
        return `from ${new Date(unlock.unix * 1000).toISOString().replace(".000Z", "Z")}`;
    }
  }
  if ("after_mint" in unlock) return `${unlock.after_mint} after mint`;
  return `from ${unlock.at}`;
}

export interface QuotaGroup {
  trait: string;
  lines: (QuotaLine & { ok: boolean; share: string })[];
}

/** The quota report grouped by trait, each line with whether it is exact and its share. */
export function quotaGroups(quotas: readonly QuotaLine[], size: number): QuotaGroup[] {
  const groups: QuotaGroup[] = [];
  for (const q of quotas) {
    let g = groups.find((x) => x.trait === q.trait_type);
    if (!g) {
      g = { trait: q.trait_type, lines: [] };
      groups.push(g);
    }
    const share = size > 0 ? `${Math.round((q.got / size) * 1000) / 10} %` : "";
    g.lines.push({ ...q, ok: q.asked === q.got, share });
  }
  return groups;
}

/** The quota a trait value is written with, for the form: `{ count }` or `{ percent }`,
 *  or `rest` when it takes what the others leave. */
export function quotaText(v: { count?: number; percent?: number }): string {
  if (v.count !== undefined) return `${v.count} items`;
  if (v.percent !== undefined) return `${v.percent} %`;
  return "the rest";
}

/** Calls `fn` once `ms` after the last of a burst of calls (validation as you type). */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = (...args: A) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  run.cancel = () => clearTimeout(timer);
  return run;
}

/** A copy of `spec` with `edit` applied, for form edits (the original stays untouched so
 *  a failed render loses nothing). */
export function editSpec(spec: CollectionSpec, edit: (draft: CollectionSpec) => void): CollectionSpec {
  // JSON, not structuredClone: the spec may be a Svelte state proxy, which cannot be cloned.
  const draft = JSON.parse(JSON.stringify(spec)) as CollectionSpec;
  edit(draft);
  return draft;
}

/** The problems the screen shows for `doc`: a parse error is one (nothing else can be
 *  checked until it parses), otherwise every validation problem. */
export function problemCount(doc: Pick<CollectionDoc, "problems" | "parse_error">): number {
  return doc.parse_error ? 1 : doc.problems.length;
}

/** The line beside Save. A spec with problems is still saved (nothing typed is lost), but
 *  never reported as simply "Saved". */
export function saveStatus(s: { exists: boolean; saved: boolean; dirty: boolean; problems: number }): {
  text: string;
  ok: boolean;
} {
  if (!s.exists && !s.saved) return { text: "Not saved yet: this is the demo collection to start from.", ok: true };
  if (s.dirty) return { text: "Unsaved changes", ok: true };
  if (s.problems === 0) return { text: "Saved", ok: true };
  return { text: `Saved — ${s.problems} problem${s.problems === 1 ? "" : "s"} to fix before publishing`, ok: false };
}
