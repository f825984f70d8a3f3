import { describe, expect, test } from "vitest";
import { eachLimited, exportName, img2imgHandoff, recipeRows, selectedFromHandoff, settingsHandoff, verdict } from "./gallery";
import { FLOW_RECIPE, generation } from "../test/fixtures";

describe("gallery logic", () => {
  test("the recipe panel lists what made the image", () => {
    const rows = Object.fromEntries(recipeRows(generation(3)).map((r) => [r.label, r.value]));
    expect(rows).toMatchObject({
      Engine: "Procedural",
      Style: "Flow Field",
      Parameters: "palette 3",
      Stage: "1",
      Prompt: "night moth",
      Seed: "42",
      Size: "512 × 512",
      "Recipe hash": "ab".repeat(32),
    });
    expect(rows["Negative prompt"]).toBeUndefined();
  });

  test("diffusion rows show the model, its hash and the img2img source", () => {
    const g = {
      ...generation(5, {
        ...FLOW_RECIPE,
        engine: {
          kind: "diffusion",
          engine_version: 1,
          model: { name: "sd15", files: {} },
          steps: 20,
          guidance: 7.5,
          scheduler: "euler_ancestral",
          dtype: "f32",
          init_image: { sha256: "ff", strength: 0.4 },
        },
      }),
      parent_id: 2,
    };
    const rows = Object.fromEntries(recipeRows(g).map((r) => [r.label, r.value]));
    expect(rows).toMatchObject({ Model: "sd15", "Model hash": "0123456789", Steps: "20", img2img: "from image #2, strength 0.4" });
    expect(settingsHandoff(g)).toEqual({ kind: "settings", recipe: g.recipe, source: { id: 2, width: 512, height: 512 } });
  });

  test("the check's verdict says identical or why different", () => {
    const same = "a".repeat(64);
    expect(verdict({ identical: true, recorded_sha256: same, regenerated_sha256: same, file_sha256: same })).toMatchObject({
      identical: true,
      title: "Identical",
    });
    const other = "b".repeat(64);
    expect(verdict({ identical: false, recorded_sha256: same, regenerated_sha256: other, file_sha256: same }).detail).toContain(
      "different bytes",
    );
    expect(verdict({ identical: false, recorded_sha256: same, regenerated_sha256: same, file_sha256: null }).detail).toContain(
      "missing",
    );
    expect(verdict({ identical: false, recorded_sha256: same, regenerated_sha256: same, file_sha256: other }).detail).toContain(
      "changed",
    );
  });

  test("hand-offs and export names", () => {
    expect(img2imgHandoff(generation(4))).toEqual({ kind: "img2img", source: { id: 4, width: 512, height: 512 } });
    expect(settingsHandoff(generation(4)).source).toBeNull();
    expect(selectedFromHandoff({ select: 9 })).toBe(9);
    expect(selectedFromHandoff({ select: "9" })).toBeNull();
    expect(selectedFromHandoff(undefined)).toBeNull();
    expect(exportName(generation(1))).toBe("night-moth-42.png");
    expect(exportName(generation(1, { ...FLOW_RECIPE, prompt: "" }))).toBe("flow-field-42.png");
  });
});

test("eachLimited keeps at most `limit` jobs running and does them all", async () => {
  let running = 0;
  let most = 0;
  const done: number[] = [];
  await eachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
    running++;
    most = Math.max(most, running);
    await new Promise((r) => setTimeout(r, 5));
    done.push(n);
    running--;
  });
  expect(most).toBe(3);
  expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
});
