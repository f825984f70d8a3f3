/** Typed calls to the Rust commands (src-tauri/src/commands.rs). Every function rejects
 *  with a `CommandError`. */

import { Channel, invoke } from "@tauri-apps/api/core";
import type {
  CheckReport,
  CredentialStatus,
  DevicesView,
  EngineCatalog,
  GenerateEvent,
  GenerateRequest,
  GenerationView,
  ModelInfo,
  ProgressEvent,
  ProjectInfo,
  RegenCheckView,
} from "./bindings";
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

// Create and Gallery (src-tauri/src/art.rs)

/** The procedural styles with their parameters, the schedulers and the size limits. */
export function engineCatalog(): Promise<EngineCatalog> {
  return call("engine_catalog");
}

/** Where diffusion can run (the CPU; CUDA GPUs in builds with CUDA), with free memory. */
export function diffusionDevices(): Promise<DevicesView> {
  return call("diffusion_devices");
}

/** Loads and hashes a diffusion model folder; rejects (kind `engine`) for a folder that is
 *  not a usable model. */
export function modelInfo(dir: string): Promise<ModelInfo> {
  return call("model_info", { dir });
}

/** Generates into the project, streaming progress (with previews) to `onEvent`. */
export function generate(request: GenerateRequest, onEvent: (event: GenerateEvent) => void): Promise<GenerationView> {
  return call("generate", { request, onProgress: new Channel<GenerateEvent>(onEvent) });
}

export function listGenerations(): Promise<GenerationView[]> {
  return call("list_generations");
}

export function getGeneration(id: number): Promise<GenerationView> {
  return call("get_generation", { id });
}

/** A gallery image as a PNG data URL: a ≤256-px thumbnail or the file itself. */
export function generationImage(id: number, thumbnail: boolean): Promise<string> {
  return call("generation_image", { id, thumbnail });
}

/** Makes image `id` again from its recipe and compares the bytes; writes nothing. A recipe
 *  with LoRAs needs their files, in the recipe's order (checked against its hashes). */
export function regenerateCheck(
  id: number,
  modelDir: string | null,
  onEvent: (event: GenerateEvent) => void,
  loraFiles: string[] = [],
): Promise<RegenCheckView> {
  return call("regenerate_check", { id, modelDir, loraFiles, onProgress: new Channel<GenerateEvent>(onEvent) });
}

/** Copies image `id` to `dest` (a file or a folder); resolves to the file written. */
export function exportPng(id: number, dest: string): Promise<string> {
  return call("export_png", { id, dest });
}

/** Opens the folder of image `id` (or the project folder) in the file manager. */
export function revealInFileManager(id: number | null): Promise<string> {
  return call("reveal_in_file_manager", { id });
}

// Storage tokens in the OS keyring (src-tauri/src/credentials.rs). The token goes in,
// never comes back out: only whether one is set.

export function credentialStatus(backend: string, endpoint: string): Promise<CredentialStatus> {
  return call("credential_status", { backend, endpoint });
}

export function setCredential(backend: string, endpoint: string, token: string): Promise<CredentialStatus> {
  return call("set_credential", { backend, endpoint, token });
}

export function deleteCredential(backend: string, endpoint: string): Promise<CredentialStatus> {
  return call("delete_credential", { backend, endpoint });
}
