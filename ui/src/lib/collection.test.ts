import { describe, expect, test, vi } from "vitest";
import { SPEC } from "../test/collection";
import type { Problem } from "./bindings";
import {
  debounce,
  describeUnlock,
  editSpec,
  formatDuration,
  group,
  lamportsToSol,
  problemCount,
  problemsAt,
  problemsExactly,
  quotaGroups,
  quotaText,
  saveStatus,
  sharesTotal,
} from "./collection";

const PROBLEMS: Problem[] = [
  { path: "creators", message: "shares sum to 9 500 bps" },
  { path: "creators[0].address", message: "not base58" },
  { path: "creatorsX", message: "another field" },
  { path: "traits[1].values[0].percent", message: "not whole" },
];


describe("collection logic", () => {
  test("a saved spec with problems says how many, never just \"Saved\"", () => {
    const saved = { exists: true, saved: true, dirty: false };
    expect(saveStatus({ ...saved, problems: 0 })).toEqual({ text: "Saved", ok: true });
    expect(saveStatus({ ...saved, problems: 1 })).toEqual({ text: "Saved — 1 problem to fix before publishing", ok: false });
    expect(saveStatus({ ...saved, problems: 4 }).text).toMatch(/^Saved — 4 problems/);
    expect(saveStatus({ ...saved, dirty: true, problems: 4 }).text).toBe("Unsaved changes");
    expect(saveStatus({ exists: false, saved: false, dirty: true, problems: 0 }).text).toContain("demo collection");
    // What the screen lists: the parse error alone (nothing else is checked), or every problem.
    const parseError = { message: "expected `=`", line: 2, column: 5 };
    expect(problemCount({ problems: PROBLEMS })).toBe(4);
    expect(problemCount({ problems: [], parse_error: parseError })).toBe(1);
  });

  test("problems at a path include those inside it, not siblings with a longer name", () => {
    expect(problemsAt(PROBLEMS, "creators").map((p) => p.path)).toEqual(["creators", "creators[0].address"]);
    expect(problemsExactly(PROBLEMS, "creators").map((p) => p.path)).toEqual(["creators"]);
    expect(problemsAt(PROBLEMS, "traits[1]")).toHaveLength(1);
    expect(problemsAt(PROBLEMS, "traits[0]")).toHaveLength(0);
  });

  test("shares total says whether it is 10 000 bps", () => {
    expect(sharesTotal(SPEC)).toEqual({ bps: 9500, ok: false, text: "9 500 of 10 000 bps (95 %)" });
    const fixed = editSpec(SPEC, (d) => (d.creators[1].share_bps = 3000));
    expect(sharesTotal(fixed).ok).toBe(true);
    expect(SPEC.creators[1].share_bps).toBe(2500);
  });

  test("numbers, SOL and durations read like the Rust messages", () => {
    expect(group(1234567)).toBe("1 234 567");
    expect(group(999)).toBe("999");
    expect(lamportsToSol(1_500_000_000)).toBe("1.5");
    expect(lamportsToSol(1)).toBe("0.000000001");
    expect(lamportsToSol(2_000_000_000)).toBe("2");
    expect(formatDuration(604_800)).toBe("1 week");
    expect(formatDuration(86_400 + 3_600 + 61)).toBe("1 day 1 hour 1 minute 1 second");
    expect(formatDuration(7_200)).toBe("2 hours");
  });

  test("unlock rules in words, from the plan or as typed", () => {
    expect(describeUnlock("mint")).toBe("at mint");
    expect(describeUnlock("owner")).toBe("when the owner triggers it");
    expect(describeUnlock({ after_mint: "7d" })).toBe("7d after mint");
    expect(describeUnlock({ at: "2027-01-01T00:00:00Z" })).toBe("from 2027-01-01T00:00:00Z");
    expect(describeUnlock({ kind: "after_mint", seconds: 86_400 })).toBe("1 day after mint");
    expect(describeUnlock({ kind: "at", unix: 1_798_761_600 })).toBe("from 2027-01-01T00:00:00Z");
    expect(describeUnlock({ kind: "creator" })).toBe("when the creator triggers it");
  });

  test("quota groups flag values that are not exact", () => {
    const groups = quotaGroups(
      [
        { trait_type: "A", value: "x", asked: 3, got: 3 },
        { trait_type: "A", value: "y", asked: 9, got: 8 },
        { trait_type: "B", value: "z", asked: 12, got: 12 },
      ],
      12,
    );
    expect(groups.map((g) => g.trait)).toEqual(["A", "B"]);
    expect(groups[0].lines.map((l) => [l.ok, l.share])).toEqual([
      [true, "25 %"],
      [false, "66.7 %"],
    ]);
  });

  test("quota text", () => {
    expect(quotaText({ count: 6 })).toBe("6 items");
    expect(quotaText({ percent: 25 })).toBe("25 %");
    expect(quotaText({})).toBe("the rest");
  });

  test("debounce runs once after the last call", () => {
    vi.useFakeTimers();
    const seen: string[] = [];
    const run = debounce((s: string) => seen.push(s), 300);
    run("a");
    run("ab");
    vi.advanceTimersByTime(299);
    expect(seen).toEqual([]);
    run("abc");
    vi.advanceTimersByTime(300);
    expect(seen).toEqual(["abc"]);
    run("x");
    run.cancel();
    vi.advanceTimersByTime(1000);
    expect(seen).toEqual(["abc"]);
    vi.useRealTimers();
  });
});
