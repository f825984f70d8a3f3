import type { CommandError, ErrorKind } from "./bindings";

const KINDS: readonly ErrorKind[] = [
  "invalidInput",
  "notFound",
  "notAProject",
  "alreadyProject",
  "tooNew",
  "damaged",
  "storage",
  "noProject",
  "busy",
  "cancelled",
  "engine",
  "keyring",
  "spec",
  "notReady",
  "funds",
  "chain",
  "upload",
  "internal",
];

export function isCommandError(value: unknown): value is CommandError {
  if (typeof value !== "object" || value === null) return false;
  const { kind, message } = value as Record<string, unknown>;
  return typeof message === "string" && KINDS.includes(kind as ErrorKind);
}

/** Whatever an `invoke` rejected with, as a `CommandError`. Our commands reject with one;
 *  Tauri itself rejects with a string (bad arguments, a missing command). */
export function toCommandError(value: unknown): CommandError {
  if (isCommandError(value)) return value;
  const detail =
    typeof value === "string"
      ? value
      : value instanceof Error
        ? value.message
        : JSON.stringify(value);
  return {
    kind: "internal",
    message: `Chrysalis Studio could not do that (${detail}). Please report it.`,
  };
}

/** The follow-up action an error suggests, if any: a folder that is not a project yet can
 *  become one, a folder that already is one can be opened. */
export type Remedy = { action: "create" | "open"; label: string } | null;

export function remedyFor(kind: ErrorKind): Remedy {
  switch (kind) {
    case "notFound":
    case "notAProject":
      return { action: "create", label: "Create a project here" };
    case "alreadyProject":
      return { action: "open", label: "Open it" };
    default:
      return null;
  }
}
