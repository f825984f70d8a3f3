import type { CheckReport, CommandError, ProgressEvent, ProjectInfo } from "../lib/bindings";
import type { Channel } from "@tauri-apps/api/core";

export const MOTHS: ProjectInfo = {
  name: "Moths of Night",
  root: "/home/ada/Art/moths",
  created: "2026-11-25T20:30:45Z",
  schema_version: 1,
  latest_schema_version: 1,
  database_bytes: 53248,
  chrysalis_version: "0.1.0",
};

export const REPORT: CheckReport = {
  ok: true,
  steps: [
    { name: "settings", ok: true, detail: "chrysalis.toml is valid" },
    { name: "database integrity", ok: true, detail: "no problems found" },
    { name: "foreign keys", ok: true, detail: "every reference resolves" },
    { name: "schema history", ok: true, detail: "1 migration recorded" },
  ],
};

export function commandError(kind: CommandError["kind"], message: string): CommandError {
  return { kind, message };
}

/** A promise the test settles by hand. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Sends messages through a channel the way the Rust side does: `{ message, index }` to the
 *  channel's callback. */
export function channelSender(channel: Channel<ProgressEvent>) {
  let index = 0;
  return (message: ProgressEvent) =>
    window.__TAURI_INTERNALS__.runCallback(channel.id, { message, index: index++ });
}

declare global {
  interface Window {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    __TAURI_INTERNALS__: any;
  }
}
