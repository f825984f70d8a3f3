import "@testing-library/jest-dom/vitest";
import { afterEach } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { studio } from "../lib/studio.svelte";

afterEach(() => {
  clearMocks();
  localStorage.clear();
  // The studio's screen and hand-offs live in a module: start every test on the overview.
  studio.reset();
});
