/** The Gallery screen's logic: the recipe panel's rows, the verdict of "regenerate and
 *  check", hand-offs to Create, and export names. */

import type { GenerationView, RegenCheckView } from "./bindings";
import type { CreateHandoff } from "./create";
import { formatDate } from "./format";

export interface RecipeRow {
  label: string;
  value: string;
  /** Hashes and paths: set in monospace. */
  mono?: boolean;
}

/** The recipe of gallery image `g`, as the side panel lists it. */
export function recipeRows(g: GenerationView): RecipeRow[] {
  const r = g.recipe;
  const rows: RecipeRow[] = [{ label: "Engine", value: r.engine.kind === "procedural" ? "Procedural" : "Diffusion" }];
  if (r.engine.kind === "procedural") {
    rows.push({ label: "Style", value: g.engine_label });
    const params = Object.entries(r.engine.params);
    rows.push({
      label: "Parameters",
      value: params.length ? params.map(([k, v]) => `${k} ${v}`).join(", ") : "style defaults",
    });
    rows.push({ label: "Stage", value: String(r.stage) });
  } else {
    rows.push({ label: "Model", value: g.engine_label });
    if (g.model_hash) rows.push({ label: "Model hash", value: g.model_hash, mono: true });
    rows.push({ label: "Steps", value: String(r.engine.steps) });
    rows.push({ label: "Guidance", value: String(r.engine.guidance) });
    rows.push({ label: "Scheduler", value: r.engine.scheduler });
    rows.push({ label: "Precision", value: r.engine.dtype });
    if (r.engine.init_image) {
      const from = g.parent_id === null ? "an image" : `image #${g.parent_id}`;
      rows.push({ label: "img2img", value: `from ${from}, strength ${r.engine.init_image.strength}` });
    }
  }
  if (r.prompt) rows.push({ label: "Prompt", value: r.prompt });
  if (r.negative_prompt) rows.push({ label: "Negative prompt", value: r.negative_prompt });
  rows.push({ label: "Seed", value: String(r.seed), mono: true });
  rows.push({ label: "Size", value: `${g.width} × ${g.height}` });
  rows.push({ label: "Made", value: formatDate(new Date(g.created_at * 1000).toISOString()) });
  rows.push({ label: "Recipe hash", value: g.recipe_hash, mono: true });
  rows.push({ label: "Image SHA-256", value: g.sha256, mono: true });
  rows.push({ label: "File", value: g.path, mono: true });
  return rows;
}

export interface Verdict {
  identical: boolean;
  title: "Identical" | "Different";
  detail: string;
}

const short = (sha: string) => sha.slice(0, 12);

/** What "regenerate and check" found, in words. */
export function verdict(check: RegenCheckView): Verdict {
  if (check.identical) {
    return {
      identical: true,
      title: "Identical",
      detail: `Made again from its recipe, byte for byte the same image (SHA-256 ${short(check.regenerated_sha256)}…).`,
    };
  }
  let detail: string;
  if (check.regenerated_sha256 !== check.recorded_sha256) {
    detail = `The recipe now makes different bytes (${short(check.regenerated_sha256)}… instead of ${short(check.recorded_sha256)}…): another engine version or, for diffusion, another model file or CPU family.`;
  } else if (check.file_sha256 === null) {
    detail = "The recipe still makes the recorded image, but the file is missing from the project folder.";
  } else {
    detail = `The recipe still makes the recorded image, but the file on disk was changed (${short(check.file_sha256)}…).`;
  }
  return { identical: false, title: "Different", detail };
}

/** "Use these settings": the hand-off to Create. */
export function settingsHandoff(g: GenerationView): CreateHandoff {
  const init = g.recipe.engine.kind === "diffusion" ? g.recipe.engine.init_image : null;
  return {
    kind: "settings",
    recipe: g.recipe,
    source: init && g.parent_id !== null ? { id: g.parent_id, width: g.width, height: g.height } : null,
  };
}

/** "Use as img2img source": the hand-off to Create. */
export function img2imgHandoff(g: GenerationView): CreateHandoff {
  return { kind: "img2img", source: { id: g.id, width: g.width, height: g.height } };
}

/** What the Gallery accepts from other screens: the image to select. */
export function selectedFromHandoff(value: unknown): number | null {
  if (typeof value !== "object" || value === null) return null;
  const select = (value as Record<string, unknown>).select;
  return typeof select === "number" ? select : null;
}

/** The file name an export suggests: the prompt's first words (or the style) and the seed. */
export function exportName(g: GenerationView): string {
  const words = (g.recipe.prompt || g.engine_label)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .split("-")
    .slice(0, 5)
    .join("-");
  return `${words || "image"}-${g.recipe.seed}.png`;
}

/** Runs `work` on every item with at most `limit` running at once, in order of the list
 *  (thumbnails: the first rows of the grid appear first and a large gallery does not queue
 *  hundreds of decodes on the backend at once). Failures are left to `work`. */
export async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++];
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
}
