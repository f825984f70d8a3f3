/** The Create screen's logic, kept out of the component so it can be tested alone: the
 *  form, its checks (in words the artist can act on), the request sent to `generate`,
 *  seeds, and turning a gallery recipe back into a form ("use these settings"). */

import type {
  Backend,
  DevicesView,
  DType,
  EngineCatalog,
  GenerateEvent,
  GenerateRequest,
  GenerationView,
  ModelInfo,
  Recipe,
  SamplingHintView,
  Scheduler,
  StyleView,
} from "./bindings";

/** The img2img source: a gallery image. */
export interface InitSource {
  id: number;
  width: number;
  height: number;
}

export interface CreateForm {
  engine: "procedural" | "diffusion";
  /** Procedural style name. */
  style: string;
  /** Procedural parameters as typed; "" leaves the style's default (or the seed's draw). */
  params: Record<string, string>;
  /** The diffusion model folder as typed, and what loading it found. */
  modelDir: string;
  model: ModelInfo | null;
  prompt: string;
  negativePrompt: string;
  seed: number;
  /** A locked seed stays after a generation; an unlocked one is re-drawn. */
  seedLocked: boolean;
  steps: number;
  guidance: number;
  scheduler: Scheduler;
  dtype: DType;
  /** Where diffusion computes: `cpu` or `cuda:N` (see `deviceChoices`). */
  device: string;
  /** The tensor library diffusion computes with (see `backendChoices`). */
  backend: Backend;
  width: number;
  height: number;
  stage: number;
  /** A kohya-layout LoRA file to merge into the model ("" for none), and its weight. */
  loraPath: string;
  loraWeight: number;
  /** img2img from a gallery image (diffusion only). */
  init: InitSource | null;
  strength: number;
}

/** Largest seed the UI draws: 2^32 - 1 keeps seeds short to read and type. Any integer up
 *  to 2^53 - 1 is accepted when typed. */
export const MAX_DRAWN_SEED = 0xffff_ffff;

export function randomSeed(random: () => number = Math.random): number {
  return Math.floor(random() * (MAX_DRAWN_SEED + 1));
}

export function defaultForm(catalog: EngineCatalog, random: () => number = Math.random): CreateForm {
  return {
    engine: "procedural",
    style: catalog.styles[0]?.name ?? "",
    params: {},
    modelDir: "",
    model: null,
    prompt: "",
    negativePrompt: "",
    seed: randomSeed(random),
    seedLocked: false,
    steps: 25,
    guidance: 7.5,
    scheduler: catalog.schedulers[0]?.id ?? "ddim",
    dtype: "f32",
    device: "cpu",
    backend: "candle",
    width: 512,
    height: 512,
    stage: 0,
    loraPath: "",
    loraWeight: 1,
    init: null,
    strength: 0.6,
  };
}

export function styleOf(catalog: EngineCatalog, name: string): StyleView | undefined {
  return catalog.styles.find((s) => s.name === name);
}

/** What is wrong with the form, by field, in words the artist can act on. Empty: ready. */
export function problems(form: CreateForm, catalog: EngineCatalog): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Number.isSafeInteger(form.seed) || form.seed < 0) {
    out.seed = "The seed must be a whole number from 0 up (use the dice to draw one).";
  }
  const limits = form.engine === "procedural" ? catalog.procedural_size : catalog.diffusion_size;
  if (!form.init) {
    for (const [key, value] of [
      ["width", form.width],
      ["height", form.height],
    ] as const) {
      if (!Number.isInteger(value) || value < limits.min || value > limits.max) {
        out[key] = `The ${key} must be ${limits.min} to ${limits.max} pixels.`;
      } else if (value % limits.multiple !== 0) {
        out[key] = `The ${key} must be a multiple of ${limits.multiple} pixels for diffusion models.`;
      }
    }
  }
  if (form.engine === "procedural") {
    const style = styleOf(catalog, form.style);
    if (!style) {
      out.style = "Choose a style.";
    } else {
      for (const p of style.params) {
        const raw = (form.params[p.name] ?? "").trim();
        if (raw === "") continue;
        const value = Number(raw);
        if (!Number.isFinite(value) || value < p.min || value > p.max) {
          out[`param.${p.name}`] = `${p.name} must be between ${p.min} and ${p.max}.`;
        } else if (p.integer && !Number.isInteger(value)) {
          out[`param.${p.name}`] = `${p.name} must be a whole number.`;
        }
      }
    }
    if (!Number.isInteger(form.stage) || form.stage < 0 || form.stage > catalog.max_stage) {
      out.stage = `The stage must be 0 to ${catalog.max_stage}.`;
    }
    if (form.init) out.init = "img2img needs a diffusion model: switch the engine or clear the source image.";
  } else {
    if (!form.model) out.model = "Choose a model folder and press Load to check it.";
    if (!Number.isInteger(form.steps) || form.steps < 1 || form.steps > 1000) {
      out.steps = "Steps must be a whole number from 1 to 1000.";
    }
    if (!Number.isFinite(form.guidance) || form.guidance < 0 || form.guidance > 30) {
      out.guidance = "Guidance must be between 0 and 30 (1 turns it off, 7.5 is usual).";
    }
    if (form.loraPath.trim() !== "" && (!Number.isFinite(form.loraWeight) || Math.abs(form.loraWeight) > 10)) {
      out.loraWeight = "The LoRA weight must be a number between -10 and 10 (1 applies it as trained).";
    }
    if (form.init && !(form.strength > 0 && form.strength <= 1)) {
      out.strength = "Strength must be above 0 and at most 1.";
    }
    if (form.backend === "torch" && form.device !== "cpu") {
      out.backend = "libtorch runs on the CPU only: choose the CPU as the device, or the candle backend for the GPU.";
    }
    if (form.dtype === "bf16" && form.backend === "candle" && form.device === "cpu") {
      out.dtype = "bf16 needs the libtorch backend or a GPU (candle has no bf16 matrix product on the CPU): choose f16 or f32, or libtorch.";
    }
  }
  return out;
}

/** The form with the sampler, steps and guidance the model expects (its hint): what a
 *  newly loaded model starts with. A few-step model (LCM, turbo) wants 1-8 steps and no
 *  guidance; SD's usual 25 guided steps would burn its images. */
export function withModelHint(form: CreateForm, model: ModelInfo): CreateForm {
  const hint = model.sampling;
  return { ...form, model, steps: hint.steps, guidance: hint.guidance, scheduler: hint.scheduler };
}

/** One line saying what a model expects, e.g. "LCM model: LCM, 4 steps (1–8), guidance off". */
export function hintText(hint: SamplingHintView, schedulerName: string): string {
  const kind = hint.family === "standard" ? "Standard model" : `${hint.family} model`;
  const steps = `${hint.steps} step${hint.steps === 1 ? "" : "s"} (${hint.min_steps}–${hint.max_steps})`;
  const guidance = hint.guidance_off
    ? `guidance off (${hint.guidance}${hint.max_guidance > 1 ? `, up to ${hint.max_guidance}` : ""})`
    : `guidance ${hint.guidance}`;
  return `${kind}: ${schedulerName}, ${steps}, ${guidance}`;
}

/** A warning (never a refusal) when the form runs a few-step model far from what it
 *  expects; null when it fits or the model is a standard one. */
export function hintWarning(form: CreateForm): string | null {
  const hint = form.model?.sampling;
  if (!hint || hint.family === "standard" || form.engine !== "diffusion") return null;
  const stepsOff = form.steps < hint.min_steps || form.steps > hint.max_steps;
  const guidanceOff = form.guidance > Math.max(hint.max_guidance, 1);
  if (!stepsOff && !guidanceOff) return null;
  return `This ${hint.family} model expects ${hint.min_steps}–${hint.max_steps} steps and guidance ${
    hint.max_guidance <= 1 ? "off (≤ 1)" : `up to ${hint.max_guidance}`
  }; these settings will likely look burnt or washed out.`;
}

/** What the text field at the top of the form is for, by engine. A diffusion model draws
 *  what the prompt says; the procedural styles draw from the style, seed and parameters
 *  alone, so there the text is only a title or note kept in the recipe (and shown in the
 *  gallery), and there is no negative prompt. */
export interface PromptField {
  label: string;
  placeholder: string;
  /** A line under the field; `null` for none. */
  hint: string | null;
  /** Whether the negative prompt field shows (and is sent). */
  negative: boolean;
}

export function promptField(engine: CreateForm["engine"]): PromptField {
  if (engine === "procedural") {
    return {
      label: "Title / note (optional)",
      placeholder: "e.g. night garden, first try",
      hint: "Kept in the image's recipe and shown in the gallery. Procedural styles do not read it: the style, seed and parameters make the picture.",
      negative: false,
    };
  }
  return {
    label: "Prompt",
    placeholder: "a luna moth made of stained glass, night garden",
    hint: null,
    negative: true,
  };
}

/** The `generate` request for a form that has no problems. */
export function toRequest(form: CreateForm): GenerateRequest {
  const engine: GenerateRequest["engine"] =
    form.engine === "procedural"
      ? {
          kind: "procedural",
          style: form.style,
          params: Object.fromEntries(
            Object.entries(form.params)
              .filter(([, v]) => v.trim() !== "")
              .map(([k, v]) => [k, Number(v)]),
          ),
        }
      : {
          kind: "diffusion",
          model_dir: form.model?.dir ?? form.modelDir,
          steps: form.steps,
          guidance: form.guidance,
          scheduler: form.scheduler,
          dtype: form.dtype,
          device: form.device,
          backend: form.backend,
          loras: form.loraPath.trim() === "" ? [] : [{ path: form.loraPath.trim(), weight: form.loraWeight }],
        };
  return {
    engine,
    prompt: form.prompt,
    // Hidden for procedural styles (they ignore it): what cannot be seen is not sent.
    negative_prompt: promptField(form.engine).negative ? form.negativePrompt : "",
    seed: form.seed,
    width: form.init?.width ?? form.width,
    height: form.init?.height ?? form.height,
    stage: form.engine === "procedural" ? form.stage : 0,
    img2img: form.engine === "diffusion" && form.init ? { parent_id: form.init.id, strength: form.strength } : null,
  };
}

/** The form after a successful generation: an unlocked seed is drawn again, so pressing
 *  Generate twice gives two different images. */
export function afterGenerate(form: CreateForm, random: () => number = Math.random): CreateForm {
  return form.seedLocked ? form : { ...form, seed: randomSeed(random) };
}

/** The form that makes `recipe` again ("use these settings"). A diffusion recipe keeps the
 *  model folder already chosen (recipes name models by hash, not by folder) and its
 *  img2img source is the gallery image `source`, if known. The seed is locked so the next
 *  Generate makes exactly that image. */
export function formFromRecipe(form: CreateForm, recipe: Recipe, source: InitSource | null = null): CreateForm {
  const base: CreateForm = {
    ...form,
    prompt: recipe.prompt,
    negativePrompt: recipe.negative_prompt,
    seed: recipe.seed,
    seedLocked: true,
    width: recipe.width,
    height: recipe.height,
    stage: recipe.stage,
    init: null,
  };
  const engine = recipe.engine;
  if (engine.kind === "procedural") {
    return {
      ...base,
      engine: "procedural",
      style: engine.style,
      params: Object.fromEntries(Object.entries(engine.params).map(([k, v]) => [k, String(v)])),
    };
  }
  return {
    ...base,
    engine: "diffusion",
    steps: engine.steps,
    guidance: engine.guidance,
    scheduler: engine.scheduler,
    dtype: engine.dtype,
    // The recipe names a kind of device; keep the GPU chosen when it is one.
    device: engine.device === "cuda" ? (form.device.startsWith("cuda") ? form.device : "cuda:0") : "cpu",
    // The backend is in the recipe (absent: candle): the same one makes the same image.
    backend: engine.backend ?? "candle",
    init: engine.init_image ? source : null,
    strength: engine.init_image?.strength ?? form.strength,
    // The recipe names a LoRA by hash, not path: keep the file chosen, take the weight; a
    // recipe without one clears the file (its settings did not use one).
    loraPath: engine.loras?.length ? form.loraPath : "",
    loraWeight: engine.loras?.[0]?.weight ?? form.loraWeight,
  };
}

/** Whether the loaded model is the one a diffusion recipe names (same file hashes). */
export function sameModel(model: ModelInfo | null, recipe: Recipe): boolean {
  if (recipe.engine.kind !== "diffusion" || !model) return false;
  const want = recipe.engine.model.files;
  const keys = Object.keys(want);
  return keys.length === Object.keys(model.files).length && keys.every((k) => model.files[k] === want[k]);
}

/** Live progress of a running generation, folded from the streamed events. */
export interface LiveProgress {
  step: number;
  total: number;
  phase: string;
  /** The latest preview image (a data URL), kept until a newer one arrives. */
  preview: string | null;
  events: number;
}

export const NO_PROGRESS: LiveProgress = { step: 0, total: 0, phase: "starting", preview: null, events: 0 };

export function foldProgress(state: LiveProgress, event: GenerateEvent): LiveProgress {
  return {
    step: event.step,
    total: event.total,
    phase: event.phase,
    preview: event.preview ?? state.preview,
    events: state.events + 1,
  };
}

/** Percent done, or `null` before the engine has said how much there is. */
export function percent(progress: LiveProgress): number | null {
  if (progress.total <= 0) return null;
  return Math.round((100 * Math.min(progress.step, progress.total)) / progress.total);
}

/** A one-line summary of a gallery image for the history list. */
export function summary(g: GenerationView): string {
  const what = g.recipe.prompt.trim() || g.engine_label;
  return `${what} · seed ${g.recipe.seed} · ${g.width}×${g.height}`;
}

/** What the Create screen accepts from other screens (see `studio.go`). */
export type CreateHandoff =
  | { kind: "settings"; recipe: Recipe; source: InitSource | null }
  | { kind: "img2img"; source: InitSource };

export function isCreateHandoff(value: unknown): value is CreateHandoff {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (v.kind === "settings" && typeof v.recipe === "object") || (v.kind === "img2img" && typeof v.source === "object");
}

/** One entry of the Create screen's "Device" picker. */
export interface DeviceChoice {
  id: string;
  label: string;
}

function gib(bytes: number | null): string | null {
  return bytes === null ? null : `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/** The device picker's entries, each with the memory free on it now ("CUDA:0 NVIDIA H100 ·
 *  71.2 GiB free of 79.6 GiB"); a build without CUDA says so as a disabled last entry. */
export function deviceChoices(view: DevicesView): { choices: DeviceChoice[]; note: string | null } {
  const choices = view.devices.map((d) => {
    const free = gib(d.free_bytes);
    const total = gib(d.total_bytes);
    const memory = free === null ? "" : total === null ? ` · ${free} free` : ` · ${free} free of ${total}`;
    return { id: d.id, label: `${d.label}${memory}` };
  });
  const note = !view.cuda_in_build
    ? "GPU: this build has no CUDA. A build with it (scripts/setup-cuda.sh --build) runs on NVIDIA GPUs."
    : view.cuda_problem
      ? `GPU: ${view.cuda_problem}`
      : null;
  return { choices, note };
}

/** One entry of the Create screen's "Backend" picker; a backend the build lacks is shown
 *  but cannot be chosen. */
export interface BackendChoice {
  id: Backend;
  label: string;
  disabled: boolean;
}

/** The backend picker's entries (candle first), and a note on what a missing one needs. */
export function backendChoices(view: DevicesView): { choices: BackendChoice[]; note: string | null } {
  const choices = view.backends.map((b) => ({
    id: b.id,
    label: b.in_build ? b.label : `${b.label} (not in this build)`,
    disabled: !b.in_build,
  }));
  const torch = view.backends.find((b) => b.id === "torch");
  const note =
    torch && !torch.in_build
      ? "libtorch: this build has none. The app built with it (scripts/studio.sh --torch) computes with PyTorch's kernels, on the CPU: faster than candle."
      : null;
  return { choices, note };
}

/** What the backend picker offers before (or without) asking the app: candle alone. */
export const CANDLE_ONLY: BackendChoice[] = [{ id: "candle", label: "candle", disabled: false }];
