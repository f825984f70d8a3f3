/** The studio's keyboard shortcuts, as a pure function of the key event so they can be
 *  tested without a window:
 *  - Ctrl+Enter (⌘+Enter on macOS): the current screen's primary action (Generate, ...);
 *  - Escape: cancel the running job;
 *  - Ctrl+1 … Ctrl+7: the seven screens of the path (Create … Royalties); Ctrl+0 the
 *    project overview. */

export type Shortcut = { action: "primary" } | { action: "cancel" } | { action: "screen"; index: number };

/** The keys listed on the overview screen and in tooltips. */
export const SHORTCUT_HELP: readonly { keys: string; what: string }[] = [
  { keys: "Ctrl+Enter", what: "Generate (or the screen's main action)" },
  { keys: "Esc", what: "Cancel the running job" },
  { keys: "Ctrl+1…7", what: "Go to Create … Royalties" },
  { keys: "Ctrl+0", what: "Project overview" },
];

type KeyLike = Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey" | "shiftKey" | "isComposing">;

export function shortcutFor(event: KeyLike): Shortcut | null {
  if (event.isComposing) return null;
  const mod = event.ctrlKey || event.metaKey;
  if (event.key === "Escape" && !mod && !event.altKey) return { action: "cancel" };
  if (!mod || event.altKey) return null;
  if (event.key === "Enter") return { action: "primary" };
  if (!event.shiftKey && /^[0-7]$/.test(event.key)) return { action: "screen", index: Number(event.key) };
  return null;
}
