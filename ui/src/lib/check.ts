/** The state of a project check, as a small pure state machine the UI renders. */

import type { CheckReport, CommandError, Progress, ProgressEvent } from "./bindings";

export type CheckState =
  | { status: "idle" }
  | { status: "running"; progress: Progress | null; cancelling: boolean }
  | { status: "done"; report: CheckReport }
  | { status: "cancelled"; progress: Progress | null; message: string }
  | { status: "failed"; error: CommandError };

export const idle: CheckState = { status: "idle" };

export function started(): CheckState {
  return { status: "running", progress: null, cancelling: false };
}

/** Applies one channel event. Events after the job settled are stale and ignored (the
 *  command's result can arrive before the channel's last messages). */
export function onEvent(state: CheckState, event: ProgressEvent): CheckState {
  if (state.status !== "running") return state;
  switch (event.event) {
    case "progress":
      return { ...state, progress: { step: event.step, total: event.total, message: event.message } };
    case "finished":
      return { status: "done", report: event.report };
  }
}

export function cancelling(state: CheckState): CheckState {
  return state.status === "running" ? { ...state, cancelling: true } : state;
}

export function succeeded(report: CheckReport): CheckState {
  return { status: "done", report };
}

export function failed(state: CheckState, error: CommandError): CheckState {
  if (error.kind === "cancelled") {
    const progress = state.status === "running" ? state.progress : null;
    return { status: "cancelled", progress, message: error.message };
  }
  return { status: "failed", error };
}

/** Percent done, or `null` while the total is unknown (show an indeterminate bar). */
export function percent(progress: Progress | null): number | null {
  if (!progress || progress.total <= 0) return null;
  return Math.round((Math.min(progress.step, progress.total) / progress.total) * 100);
}

export function summary(report: CheckReport): string {
  const failedSteps = report.steps.filter((s) => !s.ok).length;
  const n = report.steps.length;
  if (failedSteps === 0) return n === 1 ? "The check passed." : `All ${n} checks passed.`;
  return `${failedSteps} of ${n} checks found problems.`;
}
