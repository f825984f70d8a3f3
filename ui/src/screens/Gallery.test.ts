import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import type { Channel } from "@tauri-apps/api/core";
import { describe, expect, test, vi } from "vitest";
import type { GenerateEvent, RegenCheckView } from "../lib/bindings";
import { studio } from "../lib/studio.svelte";
import { backend, fail } from "../test/backend";
import { channelSender, commandError, deferred, FLOW_RECIPE, generation, MOTHS, PIXEL } from "../test/fixtures";
import Gallery from "./Gallery.svelte";

const ITEMS = [generation(2, { ...FLOW_RECIPE, seed: 7, prompt: "second" }), generation(1)];

describe("Gallery", () => {
  test("shows the grid, selects the newest and lists its recipe", async () => {
    const calls = backend({ list_generations: () => ITEMS, generation_image: () => PIXEL });
    render(Gallery, { project: MOTHS });
    expect(await screen.findAllByTestId("gallery-tile")).toHaveLength(2);
    const panel = await screen.findByTestId("recipe-panel");
    expect(panel).toHaveAttribute("data-id", "2");
    expect(await screen.findByTestId("gallery-image")).toHaveAttribute("src", PIXEL);
    const seed = screen.getAllByTestId("recipe-row").find((r) => r.dataset.label === "Seed")!;
    expect(seed).toHaveTextContent("7");
    expect(calls.filter((c) => c.cmd === "generation_image" && c.args.thumbnail === true)).toHaveLength(2);
  });

  test("regenerate and check shows progress, then identical", async () => {
    const job = deferred<RegenCheckView>();
    let send: ((e: GenerateEvent) => void) | undefined;
    const calls = backend({
      list_generations: () => ITEMS,
      generation_image: () => PIXEL,
      regenerate_check: (args) => {
        send = channelSender(args.onProgress as Channel<GenerateEvent>);
        return job.promise;
      },
    });
    const user = userEvent.setup();
    render(Gallery, { project: MOTHS });
    await user.click((await screen.findAllByTestId("gallery-tile"))[1]);
    await vi.waitFor(() => expect(screen.getByTestId("recipe-panel")).toHaveAttribute("data-id", "1"));
    await user.click(screen.getByTestId("regen-check"));
    expect(calls.at(-1)).toMatchObject({ cmd: "regenerate_check", args: { id: 1, modelDir: null } });
    send!({ event: "progress", step: 1, total: 2, phase: "growing", preview: null });
    await vi.waitFor(() => expect(screen.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "50"));
    const sha = ITEMS[1].sha256;
    job.resolve({ identical: true, recorded_sha256: sha, regenerated_sha256: sha, file_sha256: sha });
    const result = await screen.findByTestId("regen-result");
    expect(result).toHaveTextContent("Identical");
    expect(result).toHaveAttribute("data-identical", "true");
  });

  test("a diffusion image made with a LoRA asks for its file and sends it to the check", async () => {
    const recipe = {
      ...FLOW_RECIPE,
      engine: {
        kind: "diffusion" as const,
        engine_version: 2,
        model: { name: "sd15", files: {} },
        steps: 4,
        guidance: 7.5,
        scheduler: "ddim" as const,
        dtype: "f32" as const,
        loras: [{ name: "moth.safetensors", sha256: "ab".repeat(32), weight: 0.8 }],
      },
    };
    const sha = "c".repeat(64);
    const calls = backend({
      list_generations: () => [generation(5, recipe)],
      generation_image: () => PIXEL,
      regenerate_check: () => ({ identical: true, recorded_sha256: sha, regenerated_sha256: sha, file_sha256: sha }),
    });
    studio.modelDir = "/models/sd15";
    const user = userEvent.setup();
    render(Gallery, { project: MOTHS });
    const field = await screen.findByTestId("regen-lora-0");
    expect(field.closest("label")).toHaveTextContent("LoRA file for moth.safetensors (sha256 ababababab…, weight 0.8)");
    await user.type(field, "~/lora/moth.safetensors");
    await user.click(screen.getByTestId("regen-check"));
    expect(calls.at(-1)).toMatchObject({
      cmd: "regenerate_check",
      args: { id: 5, modelDir: "/models/sd15", loraFiles: ["~/lora/moth.safetensors"] },
    });
    expect(await screen.findByTestId("regen-result")).toHaveTextContent("Identical");
    studio.modelDir = "";
  });

  test("a different regeneration says why", async () => {
    const sha = ITEMS[0].sha256;
    backend({
      list_generations: () => ITEMS,
      generation_image: () => PIXEL,
      regenerate_check: () => ({ identical: false, recorded_sha256: sha, regenerated_sha256: sha, file_sha256: null }),
    });
    const user = userEvent.setup();
    render(Gallery, { project: MOTHS });
    await user.click(await screen.findByTestId("regen-check"));
    const result = await screen.findByTestId("regen-result");
    expect(result).toHaveTextContent("Different");
    expect(result).toHaveTextContent("missing");
  });

  test("export and reveal call their commands and errors show in the panel", async () => {
    const calls = backend({
      list_generations: () => ITEMS,
      generation_image: () => PIXEL,
      export_png: () => "/home/ada/Pictures/second-7.png",
      reveal_in_file_manager: fail(commandError("storage", "Could not start xdg-open to show /x. Open that folder yourself.")),
    });
    const user = userEvent.setup();
    render(Gallery, { project: MOTHS });
    const dest = await screen.findByTestId("export-dest");
    expect(dest).toHaveValue("~/Pictures/second-7.png");
    await user.click(screen.getByTestId("export-button"));
    expect(await screen.findByTestId("export-result")).toHaveTextContent("/home/ada/Pictures/second-7.png");
    expect(calls.find((c) => c.cmd === "export_png")?.args).toEqual({ id: 2, dest: "~/Pictures/second-7.png" });

    await user.click(screen.getByTestId("reveal-button"));
    expect(await screen.findByRole("alert")).toHaveTextContent("Open that folder yourself");
  });

  test("Browse… picks the export file in a save dialog, fills the field and exports there", async () => {
    let picked: string | null = null;
    const calls = backend({
      list_generations: () => ITEMS,
      generation_image: () => PIXEL,
      "plugin:dialog|save": () => picked,
      export_png: (args) => args.dest,
    });
    const user = userEvent.setup();
    render(Gallery, { project: MOTHS });
    const dest = await screen.findByTestId("export-dest");

    await user.click(screen.getByTestId("export-browse"));
    await vi.waitFor(() => expect(calls.some((c) => c.cmd === "plugin:dialog|save")).toBe(true));
    expect(calls.find((c) => c.cmd === "plugin:dialog|save")!.args.options).toEqual({
      title: "Export PNG",
      filters: [{ name: "PNG image", extensions: ["png"] }],
      defaultPath: "second-7.png",
    });
    expect(dest).toHaveValue("~/Pictures/second-7.png");
    expect(calls.some((c) => c.cmd === "export_png")).toBe(false);

    picked = "/home/ada/Desktop/moth.png";
    await user.click(screen.getByTestId("export-browse"));
    expect(await screen.findByTestId("export-result")).toHaveTextContent("/home/ada/Desktop/moth.png");
    expect(dest).toHaveValue("/home/ada/Desktop/moth.png");
    expect(calls.filter((c) => c.cmd === "export_png").map((c) => c.args)).toEqual([{ id: 2, dest: "/home/ada/Desktop/moth.png" }]);
  });

  test("use these settings and img2img hand the image to Create", async () => {
    backend({ list_generations: () => ITEMS, generation_image: () => PIXEL });
    const user = userEvent.setup();
    render(Gallery, { project: MOTHS });
    await user.click(await screen.findByTestId("use-settings"));
    expect(studio.screen).toBe("create");
    expect(studio.take("create")).toMatchObject({ kind: "settings", recipe: ITEMS[0].recipe });
  });

  test("an empty gallery points to Create; a requested image is selected", async () => {
    backend({ list_generations: () => [] });
    const user = userEvent.setup();
    const { unmount } = render(Gallery, { project: MOTHS });
    await user.click(await screen.findByText("Create the first one"));
    expect(studio.screen).toBe("create");
    unmount();

    backend({ list_generations: () => ITEMS, generation_image: () => PIXEL });
    studio.go("gallery", { select: 1 });
    render(Gallery, { project: MOTHS });
    await vi.waitFor(() => expect(screen.getByTestId("recipe-panel")).toHaveAttribute("data-id", "1"));
  });
});
