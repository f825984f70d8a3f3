/** Typed calls to the Rust commands (src-tauri/src/commands.rs). Every function rejects
 *  with a `CommandError`. */

import { Channel, invoke } from "@tauri-apps/api/core";
import type { CheckReport, ProgressEvent, ProjectInfo } from "./bindings";
import { toCommandError } from "./errors";

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (error) {
    throw toCommandError(error);
  }
}

export function createProject(dir: string, name?: string): Promise<ProjectInfo> {
  const trimmed = name?.trim();
  return call("create_project", { dir, name: trimmed ? trimmed : null });
}

export function openProject(dir: string): Promise<ProjectInfo> {
  return call("open_project", { dir });
}

/** The open project; rejects with kind `noProject` when none is open. */
export function projectInfo(): Promise<ProjectInfo> {
  return call("project_info");
}

/** Checks the open project, calling `onEvent` for each progress event as it streams in. */
export function checkProject(onEvent: (event: ProgressEvent) => void): Promise<CheckReport> {
  const onProgress = new Channel<ProgressEvent>(onEvent);
  return call("check_project", { onProgress });
}

/** Asks the running job to stop; resolves to whether one was running. */
export function cancelJob(): Promise<boolean> {
  return call("cancel_job");
}
