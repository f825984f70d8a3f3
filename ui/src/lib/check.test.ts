import { describe, expect, test } from "vitest";
import { cancelling, failed, idle, onEvent, percent, started, succeeded, summary } from "./check";
import { REPORT } from "../test/fixtures";

describe("check state", () => {
  test("progress events update a running check", () => {
    const s = onEvent(started(), { event: "progress", step: 2, total: 4, message: "checking foreign keys" });
    expect(s).toEqual({
      status: "running",
      cancelling: false,
      progress: { step: 2, total: 4, message: "checking foreign keys" },
    });
  });

  test("the finished event completes it; later events are stale", () => {
    const done = onEvent(started(), { event: "finished", report: REPORT });
    expect(done).toEqual(succeeded(REPORT));
    expect(onEvent(done, { event: "progress", step: 4, total: 4, message: "done" })).toBe(done);
    expect(onEvent(idle, { event: "progress", step: 1, total: 4, message: "x" })).toBe(idle);
  });

  test("a cancelled error keeps how far it got", () => {
    const running = onEvent(started(), { event: "progress", step: 1, total: 4, message: "x" });
    const s = failed(cancelling(running), { kind: "cancelled", message: "Cancelled." });
    expect(s).toEqual({ status: "cancelled", progress: { step: 1, total: 4, message: "x" }, message: "Cancelled." });
    expect(failed(running, { kind: "storage", message: "disk" })).toEqual({
      status: "failed",
      error: { kind: "storage", message: "disk" },
    });
  });

  test("cancelling only applies while running", () => {
    expect(cancelling(idle)).toBe(idle);
    expect(cancelling(started())).toMatchObject({ cancelling: true });
  });

  test("percent", () => {
    expect(percent(null)).toBeNull();
    expect(percent({ step: 0, total: 0, message: "" })).toBeNull();
    expect(percent({ step: 1, total: 3, message: "" })).toBe(33);
    expect(percent({ step: 5, total: 4, message: "" })).toBe(100);
  });

  test("summary", () => {
    expect(summary(REPORT)).toBe("All 4 checks passed.");
    expect(summary({ ok: true, steps: [REPORT.steps[0]] })).toBe("The check passed.");
    expect(summary({ ok: false, steps: [REPORT.steps[0], { ...REPORT.steps[1], ok: false }] })).toBe(
      "1 of 2 checks found problems.",
    );
  });
});
