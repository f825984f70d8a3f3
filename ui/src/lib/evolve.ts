/** The Evolve screen's logic: unlock rules and due times in words, which NFTs a button can
 *  move, the clock-warp presets, each row's stage images, and the calls to
 *  src-tauri/src/pipeline.rs (and `stage_image`, src-tauri/src/art.rs). */

import { Channel, invoke } from "@tauri-apps/api/core";
import type {
  ChainRequest,
  EvolveReport,
  NftTimeline,
  PipelineEvent,
  RuleView,
  StageImage,
  Timeline,
  VerifyReport,
} from "./bindings";
import { toCommandError } from "./errors";

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (error) {
    throw toCommandError(error);
  }
}

/** "1 day", "7 days", "3 h", "45 min", "20 s". */
export function spanText(seconds: number): string {
  const s = Math.abs(Math.round(seconds));
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (s >= 86_400 && s % 3_600 === 0) {
    const days = s / 86_400;
    if (Number.isInteger(days)) return plural(days, "day");
  }
  if (s >= 86_400) return `${Math.floor(s / 86_400)} d ${Math.round((s % 86_400) / 3_600)} h`;
  if (s >= 3_600) return `${Math.round(s / 3_600)} h`;
  if (s >= 60) return `${Math.round(s / 60)} min`;
  return `${s} s`;
}

/** A stage's unlock rule in words. */
export function ruleText(rule: RuleView): string {
  switch (rule.kind) {
    case "at":
      return `on ${new Date(rule.unix * 1000).toLocaleString()}`;
    case "after_mint":
      return rule.seconds === 0 ? "at mint" : `${spanText(rule.seconds)} after mint`;
    case "owner":
      return "when the owner triggers it";
    case "creator":
      return "when the creator triggers it";
  }
}

export type NftState = "final" | "due" | "waiting" | "trigger";

/** Where an NFT stands, for its badge and its line on the timeline. */
export function nftState(nft: NftTimeline, now: number): { state: NftState; text: string } {
  const next = nft.next;
  if (!next) return { state: "final", text: "Final stage reached" };
  if (next.due) return { state: "due", text: `Stage ${next.stage} is due now` };
  if (next.rule.kind === "owner" || next.rule.kind === "creator") {
    return { state: "trigger", text: `Stage ${next.stage} ${ruleText(next.rule)}` };
  }
  if (next.due_at !== null) {
    return { state: "waiting", text: `Stage ${next.stage} in ${spanText(next.due_at - now)}` };
  }
  return { state: "waiting", text: `Stage ${next.stage} ${ruleText(next.rule)}` };
}

/** The trigger button an NFT offers, if its next stage is an owner or creator trigger (the
 *  wallet signs: the holder, or the collection's authority). */
export function triggerFor(nft: NftTimeline): { label: string; toStage: number } | null {
  const next = nft.next;
  if (!next || (next.rule.kind !== "owner" && next.rule.kind !== "creator")) return null;
  return { label: `${next.rule.kind === "owner" ? "Owner" : "Creator"}: evolve to stage ${next.stage}`, toStage: next.stage };
}

/** The soonest time-rule unlock among NFTs not yet due (unix seconds), for "warp to next". */
export function nextDueAt(t: Timeline): number | null {
  const times = t.nfts.flatMap((n) => (n.next && !n.next.due && n.next.due_at !== null ? [n.next.due_at] : []));
  return times.length ? Math.min(...times) : null;
}

/** A warp duration (`90s`, `2h`, `1d`) covering `seconds`, rounded up to whole minutes. */
export function warpFor(seconds: number): string {
  return `${Math.max(1, Math.ceil(seconds / 60))}m`;
}

export const WARP_PRESETS = [
  { label: "+1 hour", duration: "1h" },
  { label: "+1 day", duration: "1d" },
  { label: "+1 week", duration: "7d" },
] as const;

/** How many NFTs sit at each stage: the timeline's summary bar. */
export function stageCounts(t: Timeline): number[] {
  const counts = t.stages.map(() => 0);
  for (const n of t.nfts) if (n.stage < counts.length) counts[n.stage] += 1;
  return counts;
}

/** The images a row shows: the NFT's stage now, then its next stage (none at the last). */
export function rowImages(nft: NftTimeline): { role: "now" | "next"; image: StageImage }[] {
  return [
    { role: "now" as const, image: nft.image },
    ...(nft.next_image ? [{ role: "next" as const, image: nft.next_image }] : []),
  ];
}

/** The key of NFT `index`'s stage image in the screen's thumbnails. */
export function imageKey(stage: number, index: number): string {
  return `${stage}/${index}`;
}

/** The stage images of `t` to fetch: on this computer and not `requested` yet, each once,
 *  in row order (a row's image now before its next one). */
export function imagesToLoad(t: Timeline, requested: ReadonlySet<string>): { stage: number; index: number; key: string }[] {
  const out: { stage: number; index: number; key: string }[] = [];
  const seen = new Set(requested);
  for (const n of t.nfts) {
    for (const { image } of rowImages(n)) {
      const key = imageKey(image.stage, n.index);
      if (!image.exists || seen.has(key)) continue;
      seen.add(key);
      out.push({ stage: image.stage, index: n.index, key });
    }
  }
  return out;
}

/** What stands in for an image that is not on this computer. */
export function missingImageText(image: StageImage): string {
  return `Stage ${image.stage} image not generated on this computer (${image.path})`;
}

/** NFT `index`'s image at `stage` as a small PNG data URL (like the gallery's thumbnails). */
export function stageImage(stage: number, index: number): Promise<string> {
  return call("stage_image", { stage, index });
}

export function evolveTimeline(chain: ChainRequest): Promise<Timeline> {
  return call("evolve_timeline", { chain });
}

export function evolveDue(chain: ChainRequest, onEvent: (e: PipelineEvent) => void): Promise<EvolveReport> {
  return call("evolve_due", { chain, onEvent: new Channel<PipelineEvent>(onEvent) });
}

export function evolveTrigger(chain: ChainRequest, index: number, toStage: number): Promise<EvolveReport> {
  return call("evolve_trigger", { chain, index, toStage });
}

/** Moves the Sandbox clock; resolves to the new unix time. */
export function warpClock(chain: ChainRequest, duration: string): Promise<number> {
  return call("warp_clock", { chain, duration });
}

/** Checks one NFT end to end: chain -> metadata -> bytes -> regenerate -> identical. */
export function verifyNft(chain: ChainRequest, mint: string): Promise<VerifyReport> {
  return call("verify_nft", { chain, mint });
}

/** A verification in one line: what passed, or the first check that did not. */
export function verifyText(r: VerifyReport): string {
  const passed = r.checks.filter((c) => c.status === "pass").length;
  if (r.ok) return `Verified: ${passed} checks passed${r.regenerated_differs ? " (regenerated bytes differ on this CPU)" : ""}.`;
  const bad = r.checks.find((c) => c.status === "fail");
  return bad ? `Not verified: ${bad.name}: ${bad.detail}` : "Not verified.";
}
