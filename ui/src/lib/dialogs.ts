/** Native open/save dialogs (tauri-plugin-dialog) behind the "Browse…" buttons. Each
 *  resolves to the chosen path, or `null` when the user cancels; a failure rejects with a
 *  `CommandError` like the Rust commands do. The text fields they fill stay editable:
 *  a pasted or typed path works the same way. */

import { open, save } from "@tauri-apps/plugin-dialog";
import { toCommandError } from "./errors";

const KEYPAIR_FILTERS = [{ name: "Solana keypair", extensions: ["json"] }];
const PNG_FILTERS = [{ name: "PNG image", extensions: ["png"] }];
const CHECKPOINT_FILTERS = [{ name: "Stable Diffusion checkpoint", extensions: ["safetensors"] }];

/** Only the first path of a selection (the dialogs here never allow several). */
function one(picked: string | string[] | null): string | null {
  if (Array.isArray(picked)) return picked[0] ?? null;
  return picked ?? null;
}

async function ask(dialog: () => Promise<string | string[] | null>): Promise<string | null> {
  try {
    return one(await dialog());
  } catch (error) {
    throw toCommandError(error);
  }
}

/** A dialog can only start from a real folder: `~` means nothing to it, so a path under
 *  `~` (or an empty one) offers just its file name. */
export function dialogDefault(path: string): string | undefined {
  const trimmed = path.trim();
  if (!trimmed) return undefined;
  if (trimmed.startsWith("~")) {
    const name = trimmed.split(/[\\/]/).pop();
    return name && name !== "~" ? name : undefined;
  }
  return trimmed;
}

/** Choose a folder (the diffusion model folder on Create). */
export function chooseFolder(title: string, current = ""): Promise<string | null> {
  return ask(() => open({ directory: true, multiple: false, title, defaultPath: dialogDefault(current) }));
}

/** Choose a single-file Stable Diffusion checkpoint (Create's model: A1111 / ComfyUI /
 *  Civitai `.safetensors`). */
export function chooseModelFile(current = ""): Promise<string | null> {
  return ask(() =>
    open({
      directory: false,
      multiple: false,
      title: "Open a Stable Diffusion checkpoint (.safetensors)",
      filters: CHECKPOINT_FILTERS,
      defaultPath: dialogDefault(current),
    }),
  );
}

/** Choose an existing Solana CLI keypair file (Mint's wallet). */
export function chooseKeypairFile(current = ""): Promise<string | null> {
  return ask(() =>
    open({
      directory: false,
      multiple: false,
      title: "Open a Solana keypair file",
      filters: KEYPAIR_FILTERS,
      defaultPath: dialogDefault(current),
    }),
  );
}

/** Choose where a new keypair file goes (Mint's "Create a new wallet"). */
export function chooseNewKeypairFile(current = ""): Promise<string | null> {
  return ask(() =>
    save({ title: "Create a Solana keypair file", filters: KEYPAIR_FILTERS, defaultPath: dialogDefault(current) }),
  );
}

/** Choose where an exported PNG goes (Gallery). */
export function choosePngDestination(defaultPath: string): Promise<string | null> {
  return ask(() => save({ title: "Export PNG", filters: PNG_FILTERS, defaultPath: dialogDefault(defaultPath) }));
}
