import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import type { Channel } from "@tauri-apps/api/core";
import { describe, expect, test, vi } from "vitest";
import type { GenerateEvent, GenerationView } from "../lib/bindings";
import { studio } from "../lib/studio.svelte";
import { backend, fail } from "../test/backend";
import {
  CATALOG,
  channelSender,
  commandError,
  deferred,
  FLOW_RECIPE,
  generation,
  LCM_SAMPLING,
  MOTHS,
  PIXEL,
  STANDARD_SAMPLING,
} from "../test/fixtures";
import Create from "./Create.svelte";

function generating() {
  const job = deferred<GenerationView>();
  let send: ((e: GenerateEvent) => void) | undefined;
  const cancel = vi.fn(() => {
    job.reject(commandError("cancelled", "The job was cancelled."));
    return true;
  });
  const calls = backend({
    engine_catalog: () => CATALOG,
    list_generations: () => [],
    generation_image: () => PIXEL,
    generate: (args) => {
      send = channelSender(args.onProgress as Channel<GenerateEvent>);
      return job.promise;
    },
    cancel_job: cancel,
    model_info: fail(
      commandError("engine", "/tmp/x is not a usable diffusion model: missing model_index.json. Choose a folder in the diffusers layout."),
    ),
  });
  return { job, send: (e: GenerateEvent) => send!(e), cancel, calls };
}

describe("Create", () => {
  test("generates with live progress, preview, then the image and history", async () => {
    const { job, send, calls } = generating();
    const user = userEvent.setup();
    render(Create, { project: MOTHS });

    await user.type(await screen.findByTestId("prompt"), "night moth");
    await user.clear(screen.getByTestId("seed"));
    await user.type(screen.getByTestId("seed"), "42");
    await user.type(screen.getByTestId("param-density"), "2");
    await user.click(screen.getByTestId("generate-button"));

    const request = calls.find((c) => c.cmd === "generate")!.args.request;
    expect(request).toEqual({
      engine: { kind: "procedural", style: "flow-field", params: { density: 2 } },
      prompt: "night moth",
      negative_prompt: "",
      seed: 42,
      width: 512,
      height: 512,
      stage: 0,
      img2img: null,
    });
    expect(screen.getByTestId("generate-button")).toBeDisabled();
    send({ event: "progress", step: 0, total: 4, phase: "growing", preview: null });
    send({ event: "progress", step: 2, total: 4, phase: "growing", preview: PIXEL });
    const bar = await screen.findByRole("progressbar");
    await vi.waitFor(() => expect(bar).toHaveAttribute("aria-valuenow", "50"));
    expect(screen.getByTestId("gen-preview")).toHaveAttribute("src", PIXEL);

    const made = { ...generation(1), recipe: { ...FLOW_RECIPE, seed: 42 } };
    calls.length = 0;
    backendAfter(made);
    job.resolve(made);
    const image = await screen.findByTestId("result-image");
    expect(image).toHaveAttribute("src", PIXEL);
    expect(await screen.findAllByTestId("history-item")).toHaveLength(1);
    // The seed was not locked: the next Generate makes a different image.
    expect(screen.getByTestId("seed")).not.toHaveValue(42);
  });

  test("Cancel stops the job and says so", async () => {
    const { send, cancel } = generating();
    const user = userEvent.setup();
    render(Create, { project: MOTHS });
    await user.click(await screen.findByTestId("generate-button"));
    send({ event: "progress", step: 1, total: 4, phase: "growing", preview: null });
    await user.click(await screen.findByTestId("gen-cancel"));
    expect(cancel).toHaveBeenCalledOnce();
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Cancelled");
    expect(screen.getByTestId("generate-button")).toBeEnabled();
  });

  test("problems show next to their field and nothing is sent", async () => {
    const { calls } = generating();
    const user = userEvent.setup();
    render(Create, { project: MOTHS });
    await user.clear(await screen.findByTestId("width"));
    await user.type(screen.getByTestId("width"), "100");
    await user.click(screen.getByTestId("generate-button"));
    expect(await screen.findByText("The width must be 256 to 2048 pixels.")).toBeInTheDocument();
    expect(calls.some((c) => c.cmd === "generate")).toBe(false);
  });

  test("for a procedural style the text field is a title or note; a diffusion model gets a prompt", async () => {
    generating();
    const user = userEvent.setup();
    render(Create, { project: MOTHS });
    const field = await screen.findByTestId("prompt");
    expect(screen.getByTestId("prompt-label")).toHaveTextContent("Title / note (optional)");
    expect(field).toHaveAccessibleDescription(/Procedural styles do not read it/);
    expect(field).toHaveAttribute("placeholder", "e.g. night garden, first try");
    expect(screen.queryByTestId("negative-prompt")).toBeNull();

    await user.click(screen.getByTestId("engine-diffusion"));
    expect(screen.getByTestId("prompt-label")).toHaveTextContent(/^Prompt$/);
    expect(screen.queryByTestId("prompt-hint")).toBeNull();
    expect(screen.getByTestId("negative-prompt")).toBeInTheDocument();
  });

  test("a folder that is not a model is explained where it was chosen", async () => {
    generating();
    const user = userEvent.setup();
    render(Create, { project: MOTHS });
    await user.click(await screen.findByTestId("engine-diffusion"));
    await user.type(screen.getByTestId("model-dir"), "/tmp/x");
    await user.click(screen.getByTestId("model-load"));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("The image engine could not run");
    expect(alert).toHaveTextContent("model_index.json");
    await user.click(screen.getByTestId("generate-button"));
    expect(screen.getByText("Choose a model folder and press Load to check it.")).toBeInTheDocument();
  });

  test("a loaded model shows its name and hash; img2img from the gallery sends the source", async () => {
    const calls = backend({
      engine_catalog: () => CATALOG,
      list_generations: () => [],
      model_info: () => ({
        dir: "/models/tiny",
        name: "tiny",
        short_hash: "0a1b2c3d4e",
        pipeline: "StableDiffusionPipeline",
        parameters: 2_500_000,
        files: {},
        sampling: STANDARD_SAMPLING,
      }),
      diffusion_devices: () => ({
        devices: [
          { id: "cpu", label: "CPU (2 threads)", free_bytes: 8 * 2 ** 30, total_bytes: 16 * 2 ** 30 },
          { id: "cuda:0", label: "CUDA:0 NVIDIA H100", free_bytes: 70 * 2 ** 30, total_bytes: 80 * 2 ** 30 },
        ],
        cuda_in_build: true,
        cuda_problem: null,
        backends: [
          { id: "candle", label: "candle", in_build: true },
          { id: "torch", label: "libtorch", in_build: false },
        ],
      }),
      generate: () => new Promise(() => {}),
    });
    studio.go("create", { kind: "img2img", source: { id: 3, width: 256, height: 256 } });
    const user = userEvent.setup();
    render(Create, { project: MOTHS });
    expect(await screen.findByTestId("init-source")).toHaveTextContent("gallery image #3");
    await user.type(screen.getByTestId("model-dir"), "~/models/tiny");
    await user.click(screen.getByTestId("model-load"));
    const info = await screen.findByTestId("model-info");
    expect(info).toHaveTextContent("tiny");
    expect(within(info).getByText("0a1b2c3d4e").tagName).toBe("CODE");
    expect(studio.modelDir).toBe("/models/tiny");

    expect(screen.getByTestId("lora-weight")).toBeDisabled();
    await user.type(screen.getByTestId("lora-path"), "~/lora/moth.safetensors");
    await user.clear(screen.getByTestId("lora-weight"));
    await user.type(screen.getByTestId("lora-weight"), "0.7");
    // The device picker lists what the backend found, with free memory; the GPU is chosen.
    const device = screen.getByTestId("device");
    await vi.waitFor(() => expect(device).toBeEnabled());
    expect(within(device).getByText("CUDA:0 NVIDIA H100 · 70.0 GiB free of 80.0 GiB")).toBeInTheDocument();
    await user.selectOptions(device, "cuda:0");
    // The backend picker offers libtorch only in builds with it, and says how to get one.
    const backendPicker = screen.getByTestId("backend");
    expect(backendPicker).toBeEnabled();
    expect(within(backendPicker).getByText("libtorch (not in this build)")).toBeDisabled();
    expect(screen.getByTestId("backend-note")).toHaveTextContent("scripts/studio.sh --torch");
    expect(backendPicker).toHaveValue("candle");
    await user.click(screen.getByTestId("generate-button"));
    const request = calls.find((c) => c.cmd === "generate")!.args.request as Record<string, unknown>;
    expect(request.img2img).toEqual({ parent_id: 3, strength: 0.6 });
    expect(request.engine).toMatchObject({
      kind: "diffusion",
      model_dir: "/models/tiny",
      scheduler: "ddim",
      device: "cuda:0",
      backend: "candle",
      loras: [{ path: "~/lora/moth.safetensors", weight: 0.7 }],
    });
    expect([request.width, request.height]).toEqual([256, 256]);
  });

  test("a few-step model sets steps, guidance and sampler to what it expects, and warns when far from it", async () => {
    const calls = backend({
      engine_catalog: () => CATALOG,
      list_generations: () => [],
      model_info: (args) => ({
        dir: args.dir,
        name: "lcm-dreamshaper",
        short_hash: "1c2d3e4f5a",
        pipeline: "StableDiffusionPipeline",
        parameters: 1_066_235_307,
        files: {},
        sampling: LCM_SAMPLING,
      }),
      generate: () => new Promise(() => {}),
    });
    const user = userEvent.setup();
    render(Create, { project: MOTHS });
    await user.click(await screen.findByTestId("engine-diffusion"));
    expect(screen.getByTestId("steps")).toHaveValue(25);
    await user.type(screen.getByTestId("model-dir"), "/models/lcm");
    await user.click(screen.getByTestId("model-load"));
    expect(await screen.findByTestId("model-hint")).toHaveTextContent("LCM model: LCM, 4 steps (1–8), guidance off (1, up to 2)");
    expect(screen.getByTestId("steps")).toHaveValue(4);
    expect(screen.getByTestId("guidance")).toHaveValue(1);
    expect(screen.getByTestId("scheduler")).toHaveValue("lcm");
    expect(screen.queryByTestId("hint-warning")).toBeNull();

    await user.clear(screen.getByTestId("steps"));
    await user.type(screen.getByTestId("steps"), "30");
    expect(await screen.findByTestId("hint-warning")).toHaveTextContent("expects 1–8 steps");
    // Reloading the same model keeps what the artist set.
    await user.click(screen.getByTestId("model-load"));
    await vi.waitFor(() => expect(calls.filter((c) => c.cmd === "model_info").length).toBe(2));
    expect(screen.getByTestId("steps")).toHaveValue(30);

    await user.clear(screen.getByTestId("steps"));
    await user.type(screen.getByTestId("steps"), "2");
    await user.click(screen.getByTestId("generate-button"));
    const request = calls.find((c) => c.cmd === "generate")!.args.request as Record<string, unknown>;
    expect(request.engine).toMatchObject({ kind: "diffusion", steps: 2, guidance: 1, scheduler: "lcm" });
  });

  test("Browse… fills the model folder from the dialog and loads it; cancelling changes nothing", async () => {
    let picked: string | null = null;
    const calls = backend({
      engine_catalog: () => CATALOG,
      list_generations: () => [],
      "plugin:dialog|open": () => picked,
      model_info: (args) => ({
        dir: args.dir,
        name: "sd15",
        short_hash: "5e6f7a8b9c",
        pipeline: "StableDiffusionPipeline",
        parameters: 1_000_000,
        files: {},
        sampling: STANDARD_SAMPLING,
      }),
    });
    const user = userEvent.setup();
    render(Create, { project: MOTHS });
    await user.click(await screen.findByTestId("engine-diffusion"));
    await user.type(screen.getByTestId("model-dir"), "/typed");

    await user.click(screen.getByTestId("model-browse"));
    await vi.waitFor(() => expect(calls.some((c) => c.cmd === "plugin:dialog|open")).toBe(true));
    expect(calls.find((c) => c.cmd === "plugin:dialog|open")!.args.options).toMatchObject({ directory: true, defaultPath: "/typed" });
    expect(screen.getByTestId("model-dir")).toHaveValue("/typed");
    expect(calls.some((c) => c.cmd === "model_info")).toBe(false);

    picked = "/models/sd15";
    await user.click(screen.getByTestId("model-browse"));
    expect(await screen.findByTestId("model-info")).toHaveTextContent("sd15");
    expect(screen.getByTestId("model-dir")).toHaveValue("/models/sd15");
    expect(calls.filter((c) => c.cmd === "model_info").map((c) => c.args)).toEqual([{ dir: "/models/sd15" }]);
    expect(studio.modelDir).toBe("/models/sd15");
  });

  test("File… loads a single-file checkpoint picked in the dialog", async () => {
    const calls = backend({
      engine_catalog: () => CATALOG,
      list_generations: () => [],
      "plugin:dialog|open": () => "/models/v1-5.safetensors",
      model_info: (args) => ({
        dir: args.dir,
        name: "v1-5",
        short_hash: "6ce0161689",
        pipeline: "StableDiffusionPipeline",
        parameters: 1_066_235_307,
        files: { "checkpoint.safetensors": "6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa" },
        sampling: STANDARD_SAMPLING,
      }),
    });
    const user = userEvent.setup();
    render(Create, { project: MOTHS });
    await user.click(await screen.findByTestId("engine-diffusion"));
    await user.click(screen.getByTestId("model-file"));
    expect(await screen.findByTestId("model-info")).toHaveTextContent("6ce0161689");
    expect(calls.find((c) => c.cmd === "plugin:dialog|open")!.args.options).toMatchObject({
      directory: false,
      filters: [{ name: "Stable Diffusion checkpoint", extensions: ["safetensors"] }],
    });
    expect(calls.filter((c) => c.cmd === "model_info").map((c) => c.args)).toEqual([{ dir: "/models/v1-5.safetensors" }]);
  });

  test("a history thumbnail that cannot be read says why on its placeholder", async () => {
    backend({
      engine_catalog: () => CATALOG,
      list_generations: () => [generation(1)],
      generation_image: fail(commandError("storage", "images/1.png is missing.")),
    });
    render(Create, { project: MOTHS });
    const placeholder = await screen.findByTestId("thumb-error");
    expect(placeholder).toHaveAttribute("title", "No thumbnail: images/1.png is missing.");
  });

  test("use these settings fills the form from a recipe, seed locked", async () => {
    backend({ engine_catalog: () => CATALOG, list_generations: () => [] });
    studio.go("create", { kind: "settings", recipe: FLOW_RECIPE, source: null });
    render(Create, { project: MOTHS });
    expect(await screen.findByTestId("seed")).toHaveValue(42);
    expect(screen.getByTestId("seed-lock")).toBeChecked();
    expect(screen.getByTestId("prompt")).toHaveValue("night moth");
    expect(screen.getByTestId("param-palette")).toHaveValue("3");
    expect(screen.getByTestId("stage")).toHaveValue(1);
  });
});

/** After the job: the image and the history the screen asks for. */
function backendAfter(made: GenerationView) {
  backend({
    engine_catalog: () => CATALOG,
    list_generations: () => [made],
    generation_image: () => PIXEL,
  });
}
