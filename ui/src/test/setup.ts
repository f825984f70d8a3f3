import "@testing-library/jest-dom/vitest";
import { afterEach } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { studio } from "../lib/studio.svelte";

// jsdom has no layout: CodeMirror (the Collection screen's TOML editor) measures text
// ranges, which jsdom's Range cannot. Empty boxes are enough for it to run.
const emptyRect = () => DOMRect.fromRect({ x: 0, y: 0, width: 0, height: 0 });
Range.prototype.getBoundingClientRect ??= emptyRect;
Range.prototype.getClientRects ??= () => Object.assign([], { item: () => null }) as unknown as DOMRectList;

afterEach(() => {
  clearMocks();
  localStorage.clear();
  // The studio's screen and hand-offs live in a module: start every test on the overview.
  studio.reset();
});
