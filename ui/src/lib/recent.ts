/** Recently opened projects, newest first, remembered in the webview's localStorage. */

export interface RecentProject {
  /** Absolute folder of the project: the identity of an entry. */
  root: string;
  name: string;
  /** When it was last opened, ISO 8601. */
  openedAt: string;
}

export const RECENT_KEY = "chrysalis.recentProjects";
export const MAX_RECENT = 8;

function isRecent(value: unknown): value is RecentProject {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.root === "string" && v.root !== "" && typeof v.name === "string" && typeof v.openedAt === "string";
}

/** Reads a stored list, dropping anything malformed instead of failing. */
export function parseRecent(raw: string | null): RecentProject[] {
  if (!raw) return [];
  try {
    const value: unknown = JSON.parse(raw);
    return Array.isArray(value) ? value.filter(isRecent).slice(0, MAX_RECENT) : [];
  } catch {
    return [];
  }
}

/** Puts a project first, once, keeping at most `MAX_RECENT`. */
export function remember(
  list: readonly RecentProject[],
  project: { root: string; name: string },
  now: Date = new Date(),
): RecentProject[] {
  const entry = { root: project.root, name: project.name, openedAt: now.toISOString() };
  return [entry, ...list.filter((p) => p.root !== project.root)].slice(0, MAX_RECENT);
}

export function forget(list: readonly RecentProject[], root: string): RecentProject[] {
  return list.filter((p) => p.root !== root);
}

export function loadRecent(storage: Storage = localStorage): RecentProject[] {
  try {
    return parseRecent(storage.getItem(RECENT_KEY));
  } catch {
    return [];
  }
}

export function saveRecent(list: readonly RecentProject[], storage: Storage = localStorage): void {
  try {
    storage.setItem(RECENT_KEY, JSON.stringify(list));
  } catch {
    // Storage full or disabled: the list is a convenience, never worth an error.
  }
}
