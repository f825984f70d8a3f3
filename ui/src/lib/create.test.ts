import { describe, expect, test } from "vitest";
import type { ModelInfo, Recipe } from "./bindings";
import {
  afterGenerate,
  backendChoices,
  defaultForm,
  deviceChoices,
  foldProgress,
  formFromRecipe,
  isCreateHandoff,
  MAX_DRAWN_SEED,
  NO_PROGRESS,
  percent,
  problems,
  promptField,
  randomSeed,
  sameModel,
  toRequest,
  withModelHint,
  hintText,
  hintWarning,
} from "./create";
import { CATALOG, FLOW_RECIPE, LCM_SAMPLING, STANDARD_SAMPLING } from "../test/fixtures";

const fixed = (x: number) => () => x;

const MODEL: ModelInfo = {
  dir: "/models/tiny",
  name: "tiny",
  short_hash: "0123456789",
  pipeline: "StableDiffusionPipeline",
  parameters: 2_500_000,
  files: { "unet/diffusion_pytorch_model.safetensors": "aa", "vae/diffusion_pytorch_model.safetensors": "bb" },
  sampling: STANDARD_SAMPLING,
};

/** A 4-step DDIM diffusion recipe, with `extra` (device, backend) in its engine spec. */
function diffusionRecipe(extra: { device?: "cuda" | "cpu"; backend?: "torch" | "candle" }) {
  return {
    ...FLOW_RECIPE,
    engine: {
      kind: "diffusion" as const,
      engine_version: 2,
      model: { name: "m", files: {} },
      steps: 4,
      guidance: 1,
      scheduler: "ddim" as const,
      dtype: "f32" as const,
      ...extra,
    },
  };
}

describe("the create form", () => {
  test("starts on the first style with a drawn seed", () => {
    const form = defaultForm(CATALOG, fixed(0.5));
    expect(form.engine).toBe("procedural");
    expect(form.style).toBe("flow-field");
    expect(form.seed).toBe(Math.floor(0.5 * (MAX_DRAWN_SEED + 1)));
    expect(problems(form, CATALOG)).toEqual({});
  });

  test("seeds are whole numbers in range", () => {
    expect(randomSeed(fixed(0))).toBe(0);
    expect(randomSeed(fixed(0.999999999999))).toBe(MAX_DRAWN_SEED);
  });

  test("a procedural request carries only the parameters typed", () => {
    const form = { ...defaultForm(CATALOG, fixed(0)), seed: 7, params: { density: "1.5", palette: " " }, prompt: "moth" };
    expect(toRequest(form)).toEqual({
      engine: { kind: "procedural", style: "flow-field", params: { density: 1.5 } },
      prompt: "moth",
      negative_prompt: "",
      seed: 7,
      width: 512,
      height: 512,
      stage: 0,
      img2img: null,
    });
  });

  test("procedural styles ignore the prompt: the field is a title or note, with no negative prompt", () => {
    const procedural = promptField("procedural");
    expect(procedural.label).toBe("Title / note (optional)");
    expect(procedural.hint).toContain("Procedural styles do not read it");
    expect(procedural.negative).toBe(false);
    expect(promptField("diffusion")).toMatchObject({ label: "Prompt", hint: null, negative: true });
    // The title is kept in the recipe; a negative prompt left from a diffusion form is not
    // sent for a procedural style (the field is hidden), but is for diffusion.
    const form = { ...defaultForm(CATALOG, fixed(0)), prompt: "first try", negativePrompt: "blurry" };
    expect(toRequest(form)).toMatchObject({ prompt: "first try", negative_prompt: "" });
    const diffusion = { ...form, engine: "diffusion" as const, model: MODEL };
    expect(toRequest(diffusion)).toMatchObject({ prompt: "first try", negative_prompt: "blurry" });
  });

  test("problems name the field and the allowed values", () => {
    const form = {
      ...defaultForm(CATALOG, fixed(0)),
      width: 100,
      seed: -1,
      params: { density: "9", palette: "2.5" },
      stage: 12,
    };
    const found = problems(form, CATALOG);
    expect(found.width).toContain("256 to 2048");
    expect(found.seed).toContain("whole number");
    expect(found["param.density"]).toContain("between 0.5 and 3");
    expect(found["param.palette"]).toContain("whole number");
    expect(found.stage).toContain("0 to 9");
    expect(found.height).toBeUndefined();
  });

  test("diffusion needs a loaded model, sane steps and a multiple-of-8 size", () => {
    const form = { ...defaultForm(CATALOG, fixed(0)), engine: "diffusion" as const, steps: 0, width: 500 };
    const found = problems(form, CATALOG);
    expect(found.model).toContain("model folder");
    expect(found.steps).toContain("1 to 1000");
    expect(found.width).toContain("multiple of 8");
  });

  test("a diffusion img2img request uses the model folder and the source's size", () => {
    const form = {
      ...defaultForm(CATALOG, fixed(0)),
      engine: "diffusion" as const,
      model: MODEL,
      modelDir: "~/models/tiny",
      init: { id: 4, width: 256, height: 320 },
      strength: 0.4,
      scheduler: "euler" as const,
    };
    expect(problems(form, CATALOG)).toEqual({});
    const request = toRequest(form);
    expect(request.engine).toEqual({
      kind: "diffusion",
      model_dir: "/models/tiny",
      steps: 25,
      guidance: 7.5,
      scheduler: "euler",
      dtype: "f32",
      device: "cpu",
      backend: "candle",
      loras: [],
    });
    expect([request.width, request.height]).toEqual([256, 320]);
    expect(request.img2img).toEqual({ parent_id: 4, strength: 0.4 });
    expect(problems({ ...form, engine: "procedural" }, CATALOG).init).toContain("diffusion model");
  });

  test("a LoRA file goes into a diffusion request with its weight; a bad weight is named", () => {
    const form = { ...defaultForm(CATALOG, fixed(0)), engine: "diffusion" as const, model: MODEL };
    expect(toRequest(form).engine).toMatchObject({ loras: [] });
    const withLora = { ...form, loraPath: "  ~/lora/moth.safetensors ", loraWeight: 0.8 };
    expect(problems(withLora, CATALOG)).toEqual({});
    expect(toRequest(withLora).engine).toMatchObject({ loras: [{ path: "~/lora/moth.safetensors", weight: 0.8 }] });
    expect(problems({ ...withLora, loraWeight: Number.NaN }, CATALOG).loraWeight).toContain("LoRA weight");
    // Without a file the weight is not checked (the field is disabled).
    expect(problems({ ...form, loraWeight: Number.NaN }, CATALOG)).toEqual({});
  });

  test("use these settings takes a recipe's LoRA weight and clears the LoRA for a recipe without one", () => {
    const form = { ...defaultForm(CATALOG, fixed(0)), loraPath: "/l/moth.safetensors", loraWeight: 1 };
    const spec = {
      engine_version: 2,
      model: { name: "tiny", files: MODEL.files },
      steps: 20,
      guidance: 7.5,
      scheduler: "ddim" as const,
      dtype: "f32" as const,
    };
    const recipe = { ...FLOW_RECIPE, engine: { kind: "diffusion" as const, ...spec } };
    expect(formFromRecipe(form, recipe)).toMatchObject({ loraPath: "", loraWeight: 1 });
    const withLora = { ...recipe, engine: { ...recipe.engine, loras: [{ name: "moth.safetensors", sha256: "ab", weight: 0.6 }] } };
    expect(formFromRecipe(form, withLora)).toMatchObject({ loraPath: "/l/moth.safetensors", loraWeight: 0.6 });
  });

  test("an unlocked seed is drawn again after generating; a locked one stays", () => {
    const form = { ...defaultForm(CATALOG, fixed(0)), seed: 5 };
    expect(afterGenerate(form, fixed(0.25)).seed).not.toBe(5);
    expect(afterGenerate({ ...form, seedLocked: true }, fixed(0.25)).seed).toBe(5);
  });

  test("use these settings: a recipe back into a form that makes it again", () => {
    const form = formFromRecipe(defaultForm(CATALOG, fixed(0)), FLOW_RECIPE);
    expect(form).toMatchObject({ engine: "procedural", style: "flow-field", seed: 42, seedLocked: true, stage: 1 });
    expect(form.params).toEqual({ palette: "3" });
    const request = toRequest(form);
    expect(request.engine).toEqual({ kind: "procedural", style: "flow-field", params: { palette: 3 } });
    expect([request.seed, request.width, request.prompt]).toEqual([42, 512, "night moth"]);

    const diffusion: Recipe = {
      ...FLOW_RECIPE,
      engine: {
        kind: "diffusion",
        engine_version: 1,
        model: { name: "tiny", files: MODEL.files },
        steps: 12,
        guidance: 3,
        scheduler: "ddim",
        dtype: "f16",
        init_image: { sha256: "ff", strength: 0.3 },
      },
    };
    const source = { id: 2, width: 512, height: 512 };
    const back = formFromRecipe({ ...defaultForm(CATALOG), model: MODEL }, diffusion, source);
    expect(back).toMatchObject({ engine: "diffusion", steps: 12, guidance: 3, dtype: "f16", init: source, strength: 0.3 });
    expect(sameModel(back.model, diffusion)).toBe(true);
    expect(sameModel({ ...MODEL, files: { ...MODEL.files, "vae/diffusion_pytorch_model.safetensors": "cc" } }, diffusion)).toBe(
      false,
    );
  });

  test("progress keeps the last preview and counts events", () => {
    let p = foldProgress(NO_PROGRESS, { event: "progress", step: 0, total: 4, phase: "growing", preview: null });
    expect(percent(p)).toBe(0);
    p = foldProgress(p, { event: "progress", step: 2, total: 4, phase: "growing", preview: "data:image/png;base64,AA" });
    p = foldProgress(p, { event: "progress", step: 3, total: 4, phase: "growing", preview: null });
    expect(p).toMatchObject({ step: 3, preview: "data:image/png;base64,AA", events: 3 });
    expect(percent(p)).toBe(75);
    expect(percent(NO_PROGRESS)).toBeNull();
  });

  test("hand-offs are checked before use", () => {
    expect(isCreateHandoff({ kind: "settings", recipe: FLOW_RECIPE, source: null })).toBe(true);
    expect(isCreateHandoff({ kind: "img2img", source: { id: 1, width: 2, height: 3 } })).toBe(true);
    expect(isCreateHandoff({ kind: "settings" })).toBe(false);
    expect(isCreateHandoff(null)).toBe(false);
  });
});

describe("model sampling hints", () => {
  const LCM: ModelInfo = { ...MODEL, sampling: LCM_SAMPLING };

  test("a loaded model brings its steps, guidance and sampler", () => {
    const form = withModelHint({ ...defaultForm(CATALOG, fixed(0)), engine: "diffusion" }, LCM);
    expect([form.steps, form.guidance, form.scheduler, form.model]).toEqual([4, 1, "lcm", LCM]);
    const standard = withModelHint(form, MODEL);
    expect([standard.steps, standard.guidance, standard.scheduler]).toEqual([20, 7.5, "ddim"]);
  });

  test("the hint reads as one line", () => {
    expect(hintText(LCM_SAMPLING, "LCM")).toBe("LCM model: LCM, 4 steps (1–8), guidance off (1, up to 2)");
    expect(hintText(STANDARD_SAMPLING, "DDIM")).toBe("Standard model: DDIM, 20 steps (10–150), guidance 7.5");
    const turbo = { ...LCM_SAMPLING, family: "turbo", scheduler: "euler_ancestral" as const, steps: 1, max_steps: 4, guidance: 0, max_guidance: 0 };
    expect(hintText(turbo, "Euler a")).toBe("turbo model: Euler a, 1 step (1–4), guidance off (0)");
  });

  test("a few-step model run far from its hint is warned about, a standard one never", () => {
    const form = withModelHint({ ...defaultForm(CATALOG, fixed(0)), engine: "diffusion" }, LCM);
    expect(hintWarning(form)).toBeNull();
    expect(hintWarning({ ...form, steps: 8, guidance: 2 })).toBeNull();
    expect(hintWarning({ ...form, steps: 25 })).toContain("expects 1–8 steps");
    expect(hintWarning({ ...form, guidance: 7.5 })).toContain("guidance up to 2");
    expect(problems({ ...form, steps: 25 }, CATALOG).steps).toBeUndefined();
    const standard = withModelHint(form, MODEL);
    expect(hintWarning({ ...standard, steps: 1000, guidance: 30 })).toBeNull();
  });

  test("the device picker shows free memory, says when the build has no CUDA, and settings keep the GPU", () => {
    const view = {
      devices: [
        { id: "cpu", label: "CPU (16 threads)", free_bytes: 11 * 2 ** 30, total_bytes: 16 * 2 ** 30 },
        { id: "cuda:0", label: "CUDA:0 NVIDIA H100", free_bytes: 71.25 * 2 ** 30, total_bytes: null },
        { id: "cuda:1", label: "CUDA:1 NVIDIA H100", free_bytes: null, total_bytes: null },
      ],
      cuda_in_build: true,
      cuda_problem: null,
      backends: [],
    };
    expect(deviceChoices(view)).toEqual({
      choices: [
        { id: "cpu", label: "CPU (16 threads) · 11.0 GiB free of 16.0 GiB" },
        { id: "cuda:0", label: "CUDA:0 NVIDIA H100 · 71.3 GiB free" },
        { id: "cuda:1", label: "CUDA:1 NVIDIA H100" },
      ],
      note: null,
    });
    const cpuOnly = { devices: view.devices.slice(0, 1), cuda_in_build: false, cuda_problem: null, backends: [] };
    expect(deviceChoices(cpuOnly).note).toContain("setup-cuda.sh");
    expect(deviceChoices({ ...view, cuda_problem: "no driver" }).note).toBe("GPU: no driver");

    const form = { ...defaultForm(CATALOG, fixed(0)), engine: "diffusion" as const, model: MODEL, device: "cuda:1" };
    expect(toRequest(form).engine).toMatchObject({ device: "cuda:1" });
    const recipe = (device?: "cuda" | "cpu") => diffusionRecipe(device ? { device } : {});
    expect(formFromRecipe(form, recipe("cuda")).device).toBe("cuda:1");
    expect(formFromRecipe({ ...form, device: "cpu" }, recipe("cuda")).device).toBe("cuda:0");
    expect(formFromRecipe(form, recipe()).device).toBe("cpu");
  });

  test("the backend picker offers candle, libtorch only in builds with it; settings keep the recipe's backend", () => {
    const view = (torch: boolean) => ({
      devices: [{ id: "cpu", label: "CPU (16 threads)", free_bytes: null, total_bytes: null }],
      cuda_in_build: false,
      cuda_problem: null,
      backends: [
        { id: "candle" as const, label: "candle", in_build: true },
        { id: "torch" as const, label: "libtorch", in_build: torch },
      ],
    });
    expect(backendChoices(view(true))).toEqual({
      choices: [
        { id: "candle", label: "candle", disabled: false },
        { id: "torch", label: "libtorch", disabled: false },
      ],
      note: null,
    });
    const lacking = backendChoices(view(false));
    expect(lacking.choices[1]).toEqual({ id: "torch", label: "libtorch (not in this build)", disabled: true });
    expect(lacking.note).toContain("scripts/studio.sh --torch");

    const form = { ...defaultForm(CATALOG, fixed(0)), engine: "diffusion" as const, model: MODEL };
    expect(form.backend).toBe("candle");
    expect(toRequest({ ...form, backend: "torch" }).engine).toMatchObject({ backend: "torch", device: "cpu" });
    expect(problems({ ...form, backend: "torch" }, CATALOG)).toEqual({});
    // libtorch runs on the CPU only: the form says so rather than sending a request that fails.
    expect(problems({ ...form, backend: "torch", device: "cuda:0" }, CATALOG).backend).toContain("CPU only");
    expect(problems({ ...form, device: "cuda:0" }, CATALOG).backend).toBeUndefined();
    // bf16 needs libtorch (or a GPU): candle on the CPU has no bf16 matrix product.
    expect(problems({ ...form, dtype: "bf16" }, CATALOG).dtype).toContain("libtorch");
    expect(problems({ ...form, dtype: "bf16", backend: "torch" }, CATALOG).dtype).toBeUndefined();
    expect(problems({ ...form, dtype: "bf16", device: "cuda:0" }, CATALOG).dtype).toBeUndefined();
    const recipe = (backend?: "torch" | "candle") => diffusionRecipe(backend ? { backend } : {});
    expect(formFromRecipe(form, recipe("torch")).backend).toBe("torch");
    expect(formFromRecipe({ ...form, backend: "torch" }, recipe()).backend).toBe("candle");
  });
});
