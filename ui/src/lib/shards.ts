/** One collection on several machines: the calls to src-tauri's shard commands and what the
 *  Publish screen says about them. A "shard job" is a folder the app exports, one per
 *  machine (a project holding the spec, `shard.json` and a README); the other machine makes
 *  its images there, and "Import results…" brings them back, each checked against its
 *  recipe. The rules live in crates/pipeline (shard_jobs.rs, merge.rs); this file only
 *  words their reports. */

import { Channel, invoke } from "@tauri-apps/api/core";
import type { ImportReport, JobsExport, PipelineEvent, PublishReport, Shard, ShardCheck, ShardJob } from "./bindings";
import { toCommandError } from "./errors";

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (error) {
    throw toCommandError(error);
  }
}

/** Writes `count` job folders into `dest`. */
export function shardExport(dest: string, count: number): Promise<JobsExport> {
  return call("shard_export", { dest, count });
}

/** The open project's job manifest when it is a job folder, else `null`. */
export function shardJob(): Promise<ShardJob | null> {
  return call("shard_job");
}

/** Makes the open job folder's images (cancel with `cancelJob`). */
export function shardRun(onEvent: (e: PipelineEvent) => void): Promise<PublishReport> {
  return call("shard_run", { onEvent: new Channel<PipelineEvent>(onEvent) });
}

/** What a shard folder holds, before importing it. */
export function shardInspect(dir: string): Promise<ShardCheck> {
  return call("shard_inspect", { dir });
}

/** Copies a shard folder's images in, each checked (cancel with `cancelJob`). */
export function shardImport(dir: string, onEvent: (e: PipelineEvent) => void): Promise<ImportReport> {
  return call("shard_import", { dir, onEvent: new Channel<PipelineEvent>(onEvent) });
}

/** The most machines the form offers (the pipeline also caps it at the number of items). */
export const MAX_MACHINES = 256;

/** Why `count` machines cannot be used for a collection of `items` items (`items` unknown:
 *  0); `null` when it can. The pipeline checks the same and says so too. */
export function machinesProblem(count: number, items: number): string | null {
  if (!Number.isInteger(count) || count < 1) return "Enter how many machines: a whole number, 1 or more.";
  const limit = items > 0 ? Math.min(items, MAX_MACHINES) : MAX_MACHINES;
  if (count > limit) {
    return items > 0 && items <= MAX_MACHINES
      ? `The collection has ${items} items: at most ${items} machines, one item each.`
      : `At most ${MAX_MACHINES} machines.`;
  }
  return null;
}

/** "shard 2/3" as the CLI writes it (K counts from 0). */
export function shardName(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The sentence a job folder's Publish screen opens with. */
export function jobText(job: ShardJob): string {
  return (
    `This folder is shard job ${shardName(job.shard)} of “${job.collection}”: it makes ${plural(job.images, "image")} ` +
    `(${plural(job.shard_items, "item")} of ${job.items}, every item i with i mod ${job.shard.count} = ${job.shard.index}, ` +
    `at ${plural(job.stages, "stage")}). Make them here, then take the whole folder back to the project it came from.`
  );
}

/** What a shard folder holds, in one sentence, and whether it can be imported. */
export interface CheckView {
  text: string;
  /** Green when complete, amber when partial, red when it cannot be imported. */
  tone: "ok" | "warn" | "bad";
  importable: boolean;
}

export function checkView(check: ShardCheck): CheckView {
  const which = check.job ? `Shard job ${shardName(check.job.shard)} of “${check.job.collection}”` : "A shard folder without a job file";
  if (check.problem) return { text: `${which}: ${check.problem}`, tone: "bad", importable: false };
  const text = `${which}: ${check.found} of ${plural(check.expected, "image")} found.`;
  return { text, tone: check.found < check.expected ? "warn" : "ok", importable: true };
}

/** What an import did, in one sentence. */
export function importText(r: ImportReport): string {
  const parts = [`${plural(r.imported, "image")} imported`];
  if (r.already) parts.push(`${r.already} already here`);
  if (r.refused.length) parts.push(`${r.refused.length} refused`);
  let text = `${parts.join(", ")}.`;
  if (r.imported + r.already > 0) text += " Every image kept was checked against its recipe.";
  if (r.missing) {
    text += ` ${plural(r.missing, "image")} of this shard ${r.missing === 1 ? "is" : "are"} not made yet: finish the job on its machine and import the folder again.`;
  }
  return text;
}

/** Green when everything came in, amber when some is missing, red when some was refused. */
export function importTone(r: ImportReport): "ok" | "warn" | "bad" {
  if (r.refused.length) return "bad";
  return r.missing ? "warn" : "ok";
}

/** The last path segment, for a table cell (the full path goes in its title). */
export function folderName(path: string): string {
  return path.split(/[\\/]/).filter(Boolean).pop() ?? path;
}
