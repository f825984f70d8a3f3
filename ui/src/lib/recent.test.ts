import { describe, expect, test } from "vitest";
import { forget, loadRecent, MAX_RECENT, parseRecent, RECENT_KEY, remember, saveRecent } from "./recent";

const at = (s: string) => new Date(s);

describe("recent projects", () => {
  test("remember puts a project first, once", () => {
    let list = remember([], { root: "/a", name: "A" }, at("2026-01-01T00:00:00Z"));
    list = remember(list, { root: "/b", name: "B" }, at("2026-01-02T00:00:00Z"));
    list = remember(list, { root: "/a", name: "A renamed" }, at("2026-01-03T00:00:00Z"));
    expect(list).toEqual([
      { root: "/a", name: "A renamed", openedAt: "2026-01-03T00:00:00.000Z" },
      { root: "/b", name: "B", openedAt: "2026-01-02T00:00:00.000Z" },
    ]);
  });

  test(`keeps at most ${MAX_RECENT}`, () => {
    let list = remember([], { root: "/0", name: "0" });
    for (let i = 1; i < 20; i++) list = remember(list, { root: `/${i}`, name: `${i}` });
    expect(list).toHaveLength(MAX_RECENT);
    expect(list[0].root).toBe("/19");
  });

  test("forget removes by folder", () => {
    const list = remember(remember([], { root: "/a", name: "A" }), { root: "/b", name: "B" });
    expect(forget(list, "/a").map((p) => p.root)).toEqual(["/b"]);
  });

  test("malformed storage reads as empty or is filtered", () => {
    expect(parseRecent(null)).toEqual([]);
    expect(parseRecent("{not json")).toEqual([]);
    expect(parseRecent('{"root":"/a"}')).toEqual([]);
    expect(parseRecent('[{"root":"/a","name":"A","openedAt":"x"},{"root":""},7]')).toEqual([
      { root: "/a", name: "A", openedAt: "x" },
    ]);
  });

  test("round-trips through storage", () => {
    const list = remember([], { root: "/a", name: "A" });
    saveRecent(list);
    expect(localStorage.getItem(RECENT_KEY)).toContain('"/a"');
    expect(loadRecent()).toEqual(list);
  });
});
