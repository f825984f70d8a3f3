import { describe, expect, test } from "vitest";
import { SCREENS, screenForKey } from "./screens";
import { shortcutFor } from "./shortcuts";
import { studio } from "./studio.svelte";

const key = (k: string, mods: Partial<KeyboardEvent> = {}) =>
  ({ key: k, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, isComposing: false, ...mods }) as KeyboardEvent;

describe("shortcuts", () => {
  test("map keys to actions", () => {
    expect(shortcutFor(key("Enter", { ctrlKey: true }))).toEqual({ action: "primary" });
    expect(shortcutFor(key("Enter", { metaKey: true }))).toEqual({ action: "primary" });
    expect(shortcutFor(key("Enter"))).toBeNull();
    expect(shortcutFor(key("Escape"))).toEqual({ action: "cancel" });
    expect(shortcutFor(key("3", { ctrlKey: true }))).toEqual({ action: "screen", index: 3 });
    expect(shortcutFor(key("8", { ctrlKey: true }))).toBeNull();
    expect(shortcutFor(key("3"))).toBeNull();
    expect(shortcutFor(key("Enter", { ctrlKey: true, isComposing: true }))).toBeNull();
  });
});

describe("screen registry", () => {
  test("lists the whole path in order, Ctrl+1 to 7", () => {
    expect(SCREENS.map((s) => s.id)).toEqual([
      "project",
      "create",
      "gallery",
      "collection",
      "publish",
      "mint",
      "evolve",
      "royalties",
    ]);
    expect(screenForKey(1)?.id).toBe("create");
    expect(screenForKey(7)?.id).toBe("royalties");
    for (const s of SCREENS) expect(s.about.length).toBeGreaterThan(40);
  });

  test("built screens have components, the rest show what comes next", () => {
    const byId = Object.fromEntries(SCREENS.map((s) => [s.id, s]));
    expect(byId.create.component).not.toBeNull();
    expect(byId.gallery.component).not.toBeNull();
    expect(byId.project.component).not.toBeNull();
  });
});

describe("studio state", () => {
  test("hand-offs are taken once, by their screen", () => {
    studio.go("create", { kind: "img2img" });
    expect(studio.screen).toBe("create");
    expect(studio.take("gallery")).toBeUndefined();
    expect(studio.take("create")).toEqual({ kind: "img2img" });
    expect(studio.take("create")).toBeUndefined();
  });

  test("the primary action belongs to the screen that set it", () => {
    let ran = 0;
    const clear = studio.setPrimary(() => ran++);
    expect(studio.runPrimary()).toBe(true);
    clear();
    expect(studio.runPrimary()).toBe(false);
    studio.setPrimary(() => ran++);
    studio.go("gallery");
    expect(studio.runPrimary()).toBe(false);
    expect(ran).toBe(1);
    studio.reset();
    expect(studio.screen).toBe("project");
  });
});
