/** The studio's shared, screen-independent state: which screen is showing, what one
 *  screen hands to the next ("use these settings", "img2img from this image"), and what
 *  Ctrl+Enter does on the current screen.
 *
 *  It lives in a module (not in App.svelte) so that any screen can navigate or hand work
 *  on without the shell knowing about that screen. It imports no screen, so screens can
 *  import it freely (screens.ts imports every screen; importing that from a screen would
 *  be a cycle). */

/** Every screen of the app, in the order of the artist's path. */
export const SCREEN_IDS = [
  "project",
  "create",
  "gallery",
  "collection",
  "publish",
  "mint",
  "evolve",
  "royalties",
] as const;

export type ScreenId = (typeof SCREEN_IDS)[number];

export function isScreenId(value: unknown): value is ScreenId {
  return typeof value === "string" && (SCREEN_IDS as readonly string[]).includes(value);
}

/** Something a screen hands to another: the target takes it once when it shows. */
export interface Handoff {
  screen: ScreenId;
  /** What the target screen expects; each screen documents and checks its own shape. */
  data: unknown;
}

class Studio {
  screen = $state<ScreenId>("project");
  handoff = $state<Handoff | null>(null);
  /** The diffusion model folder last loaded on Create, for Gallery's checks of diffusion
   *  images (recipes name models by hash, not by folder). */
  modelDir = $state("");
  /** Ctrl+Enter on the current screen (Generate on Create); set by the screen itself. */
  #primary: (() => void) | null = null;

  /** Shows `screen`, optionally handing it `data` (see `take`). */
  go(screen: ScreenId, data?: unknown) {
    this.handoff = data === undefined ? null : { screen, data };
    this.#primary = null;
    this.screen = screen;
  }

  /** The data handed to `screen`, once: a second call returns `undefined`. */
  take(screen: ScreenId): unknown {
    const handoff = this.handoff;
    if (!handoff || handoff.screen !== screen) return undefined;
    this.handoff = null;
    return handoff.data;
  }

  /** Makes `action` what Ctrl+Enter does until the returned function is called (use it as
   *  an `$effect` cleanup). */
  setPrimary(action: () => void): () => void {
    this.#primary = action;
    return () => {
      if (this.#primary === action) this.#primary = null;
    };
  }

  /** Runs the current screen's primary action; false when it has none. */
  runPrimary(): boolean {
    if (!this.#primary) return false;
    this.#primary();
    return true;
  }

  /** Back to the start (a different project opened). */
  reset() {
    this.screen = "project";
    this.handoff = null;
    this.modelDir = "";
    this.#primary = null;
  }
}

export const studio = new Studio();
