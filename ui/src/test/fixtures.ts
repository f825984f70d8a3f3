import type {
  CheckReport,
  CommandError,
  EngineCatalog,
  GenerationView,
  ProgressEvent,
  ProjectInfo,
  Recipe,
  SamplingHintView,
  ShardJob,
} from "../lib/bindings";
import type { Channel } from "@tauri-apps/api/core";

export const MOTHS: ProjectInfo = {
  name: "Moths of Night",
  root: "/home/ada/Art/moths",
  created: "2026-11-25T20:30:45Z",
  schema_version: 1,
  latest_schema_version: 1,
  database_bytes: 53248,
  chrysalis_version: "0.1.0",
};

export const REPORT: CheckReport = {
  ok: true,
  steps: [
    { name: "settings", ok: true, detail: "chrysalis.toml is valid" },
    { name: "database integrity", ok: true, detail: "no problems found" },
    { name: "foreign keys", ok: true, detail: "every reference resolves" },
    { name: "schema history", ok: true, detail: "1 migration recorded" },
  ],
};

export function commandError(kind: CommandError["kind"], message: string): CommandError {
  return { kind, message };
}

/** A promise the test settles by hand. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Sends messages through a channel the way the Rust side does: `{ message, index }` to the
 *  channel's callback. */
export function channelSender<T = ProgressEvent>(channel: Channel<T>) {
  let index = 0;
  return (message: T) =>
    window.__TAURI_INTERNALS__.runCallback(channel.id, { message, index: index++ });
}

declare global {
  interface Window {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    __TAURI_INTERNALS__: any;
  }
}


export const CATALOG: EngineCatalog = {
  styles: [
    {
      name: "flow-field",
      title: "Flow Field",
      description: "Evenly spaced ink strokes.",
      params: [
        { name: "density", min: 0.5, max: 3, integer: false, default: 1, doc: "how closely strokes pack" },
        { name: "palette", min: 0, max: 9, integer: true, default: null, doc: "palette index" },
      ],
    },
    { name: "growth", title: "Growth", description: "A branching organism.", params: [] },
  ],
  schedulers: [
    { id: "ddim", name: "DDIM" },
    { id: "euler", name: "Euler" },
    { id: "euler_ancestral", name: "Euler a" },
    { id: "lcm", name: "LCM" },
  ],
  procedural_size: { min: 256, max: 2048, multiple: 1 },
  diffusion_size: { min: 64, max: 2048, multiple: 8 },
  max_stage: 9,
};

export const FLOW_RECIPE: Recipe = {
  format: 1,
  engine: { kind: "procedural", engine_version: 1, style: "flow-field", params: { palette: 3 } },
  seed: 42,
  width: 512,
  height: 512,
  stage: 1,
  prompt: "night moth",
  negative_prompt: "",
};

/** Shard job 1 of 3 of a 12-item, 3-stage collection, as `shard.json` holds it. */
export const SHARD_JOB: ShardJob = {
  format: 1,
  collection: "Moths of Night",
  shard: { index: 1, count: 3 },
  spec_sha256: "ab",
  items: 12,
  stages: 3,
  shard_items: 4,
  images: 12,
  model: null,
  chrysalis: "0.1.0",
  command: "chrysalis publish --project . --only generate --shard 1/3",
};

export function generation(id: number, recipe: Recipe = FLOW_RECIPE): GenerationView {
  return {
    id,
    recipe,
    recipe_hash: "ab".repeat(32),
    path: `images/abababababababab-0000000${id}.png`,
    file: `/home/ada/Art/moths/images/abababababababab-0000000${id}.png`,
    sha256: `${id}`.padStart(64, "c"),
    width: recipe.width,
    height: recipe.height,
    parent_id: null,
    created_at: 1_764_102_645,
    engine_label: recipe.engine.kind === "procedural" ? "Flow Field" : recipe.engine.model.name,
    model_hash: recipe.engine.kind === "procedural" ? null : "0123456789",
    parameters: `night moth\nSteps: 1, Seed: ${recipe.seed}`,
  };
}

/** A 1×1 PNG as a data URL. */
export const PIXEL =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGNgYGAAAAAEAAH2FzhVAAAAAElFTkSuQmCC";

/** What `model_info` says a standard SD model expects. */
export const STANDARD_SAMPLING: SamplingHintView = {
  family: "standard",
  scheduler: "ddim",
  steps: 20,
  min_steps: 10,
  max_steps: 150,
  guidance: 7.5,
  max_guidance: 20,
  guidance_off: false,
  source: "no few-step marker found: a standard model",
  note: null,
};

/** What `model_info` says an LCM model (LCMScheduler config) expects. */
export const LCM_SAMPLING: SamplingHintView = {
  family: "LCM",
  scheduler: "lcm",
  steps: 4,
  min_steps: 1,
  max_steps: 8,
  guidance: 1,
  max_guidance: 2,
  guidance_off: true,
  source: "scheduler/scheduler_config.json names LCMScheduler",
  note: null,
};
