/** The Publish screen's logic: the backends to choose from, the calls to
 *  src-tauri/src/pipeline.rs, the progress readout (items, bytes, ETA) built from the
 *  pipeline's events, and what the journal says about an earlier (maybe interrupted) run. */

import { Channel, invoke } from "@tauri-apps/api/core";
import type { PipelineEvent, PublishReport, PublishRequest, PublishStatus } from "./bindings";
import { toCommandError } from "./errors";
import { formatBytes } from "./format";

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (error) {
    throw toCommandError(error);
  }
}

export type BackendId = "local" | "kubo" | "psa" | "pinata" | "arweave";

export interface Backend {
  id: BackendId;
  label: string;
  /** One line for someone who has never heard of IPFS. */
  about: string;
  /** The address field: required, optional (with this placeholder default) or absent. */
  endpoint: "none" | "optional" | "required";
  placeholder: string;
  /** A bearer token kept in the OS keyring. */
  token: boolean;
  /** Arweave pays with a JWK wallet file. */
  wallet: boolean;
}

export const BACKENDS: readonly Backend[] = [
  {
    id: "local",
    label: "This computer",
    about: "The project's own content-addressed store. Enough for the Sandbox; nothing leaves this computer.",
    endpoint: "none",
    placeholder: "",
    token: false,
    wallet: false,
  },
  {
    id: "kubo",
    label: "Kubo / IPFS Desktop",
    about: "An IPFS node you run (IPFS Desktop, or `ipfs daemon`). The files are pinned there and shared with the IPFS network.",
    endpoint: "optional",
    placeholder: "http://127.0.0.1:5001",
    token: true,
    wallet: false,
  },
  {
    id: "psa",
    label: "Pinning service",
    about: "Any service speaking the IPFS Pinning Services API (Filebase, 4EVERLAND, …): it fetches the files by CID and keeps them online.",
    endpoint: "required",
    placeholder: "https://api.example.com/psa",
    token: true,
    wallet: false,
  },
  {
    id: "pinata",
    label: "Pinata",
    about: "Pinata's upload API: the files are uploaded and pinned in your Pinata account.",
    endpoint: "optional",
    placeholder: "https://uploads.pinata.cloud/v3",
    token: true,
    wallet: false,
  },
  {
    id: "arweave",
    label: "Arweave",
    about: "Permanent storage paid once in AR from your Arweave wallet (a JWK key file).",
    endpoint: "optional",
    placeholder: "https://arweave.net",
    token: false,
    wallet: true,
  },
];

export function backendInfo(id: string): Backend {
  return BACKENDS.find((b) => b.id === id) ?? BACKENDS[0];
}

/** The endpoint a token is filed under (the keyring account names it), as the CLI does. */
export function tokenEndpoint(backend: Backend, endpoint: string): string {
  return endpoint.trim() || backend.placeholder;
}

/** What the form holds, as the command takes it. Empty fields become `null` (defaults). */
export function publishRequest(form: { backend: BackendId; endpoint: string; wallet: string; layout: string }): PublishRequest {
  const b = backendInfo(form.backend);
  const blank = (s: string) => (s.trim() ? s.trim() : null);
  return {
    backend: b.id,
    endpoint: b.endpoint === "none" ? null : blank(form.endpoint),
    arweave_wallet: b.wallet ? blank(form.wallet) : null,
    layout: blank(form.layout),
  };
}

/** Problems the form can see before anything runs; `null` when it can go. */
export function formProblem(form: { backend: BackendId; endpoint: string; wallet: string }): string | null {
  const b = backendInfo(form.backend);
  if (b.endpoint === "required" && !form.endpoint.trim()) return "Enter the service's API address.";
  if (b.wallet && !form.wallet.trim()) return "Choose the Arweave wallet file that pays for storage.";
  return null;
}

export function publishStatus(): Promise<PublishStatus> {
  return call("publish_status");
}

/** Writes the demo collection spec into the project (never over an existing one). */
export function useDemoCollection(): Promise<boolean> {
  return call("use_demo_collection");
}

export function publishRun(request: PublishRequest, onEvent: (e: PipelineEvent) => void): Promise<PublishReport> {
  return call("publish_run", { request, onEvent: new Channel<PipelineEvent>(onEvent) });
}

// ---------------------------------------------------------------------------------------
// Progress

const PHASE_WORDS: Record<string, string> = {
  plan: "Planning",
  generate: "Generating images",
  metadata: "Writing metadata",
  pin: "Pinning",
  collection: "Creating the collection",
  mint: "Minting",
  warp: "Moving the clock",
  evolve: "Evolving",
  royalties: "Royalties",
  verify: "Verifying",
};

export function phaseLabel(phase: string): string {
  return PHASE_WORDS[phase] ?? phase;
}

export interface ProgressView {
  phase: string;
  label: string;
  /** Percent of the current phase; `null` when its size is unknown. */
  percent: number | null;
  /** "7 of 36". */
  items: string;
  /** Bytes pinned so far ("" before pinning). */
  bytes: string;
  /** "about 40 s left" ("" until it can be estimated). */
  eta: string;
  message: string;
}

/** Seconds as "12 s", "3 min", "1 h 5 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "";
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Turns the stream of pipeline events into what the progress panel shows. `now` is
 *  injectable for tests (milliseconds). */
export class ProgressTracker {
  #phase = "";
  #phaseStart = 0;
  #doneBytes = 0;
  #folderBytes = 0;
  view: ProgressView | null = null;

  constructor(private now: () => number = () => Date.now()) {}

  push(e: PipelineEvent): ProgressView {
    const t = this.now();
    if (e.phase !== this.#phase) {
      this.#phase = e.phase;
      this.#phaseStart = t;
    }
    if (e.phase === "pin") {
      if (e.bytes !== null) {
        this.#folderBytes = Math.max(this.#folderBytes, e.bytes);
      } else {
        // A folder finished: its bytes are done.
        this.#doneBytes += this.#folderBytes;
        this.#folderBytes = 0;
      }
    }
    const known = e.total > 0;
    const percent = known ? Math.min(100, Math.round((e.step / e.total) * 100)) : null;
    let eta = "";
    const elapsed = (t - this.#phaseStart) / 1000;
    if (known && e.step > 0 && e.step < e.total && elapsed > 0) {
      eta = `about ${formatDuration((elapsed / e.step) * (e.total - e.step))} left`;
    }
    const pinned = this.#doneBytes + this.#folderBytes;
    this.view = {
      phase: e.phase,
      label: phaseLabel(e.phase),
      percent,
      items: known ? `${e.step} of ${e.total}` : `${e.step}`,
      bytes: pinned > 0 ? formatBytes(pinned) : "",
      eta,
      message: e.message,
    };
    return this.view;
  }
}

// ---------------------------------------------------------------------------------------
// Where an earlier run got

export type PublishState = "no-spec" | "not-started" | "partial" | "changed" | "complete";

/** How far an interrupted run got at the step where it stopped, for a bar. */
export interface StoppedAt {
  /** "images", "metadata files" or "folders pinned". */
  what: string;
  done: number;
  total: number;
}

export interface PublishSummary {
  state: PublishState;
  text: string;
  /** Set when an earlier run stopped part-way through the current plan. */
  stopped?: StoppedAt;
}

/** `n` of the `total` (never more than the total: the journal may hold extra rows). */
const upTo = (n: number, total: number) => Math.min(n, total);

/** Folders an earlier run pinned and verified: each stage's images and metadata and the
 *  collection JSON, counted once whatever the backends. */
function verifiedFolders(s: PublishStatus): number {
  const folders = new Set(s.pins.filter((p) => p.status === "verified").map((p) => (p.folder === "collection" ? "collection" : `${p.stage}/${p.folder}`)));
  return folders.size;
}

const RESUMES = "Publish again and it resumes from there";

/** What the journal says, in one word for the screen and one sentence for the artist: after
 *  a crash or a cancel, how far the run got (images made, metadata written, folders pinned). */
export function publishState(s: PublishStatus): PublishSummary {
  if (!s.has_spec) {
    return {
      state: "no-spec",
      text: "This project has no collection yet. Design one on the Collection screen, or start from the demo collection.",
    };
  }
  if (s.complete) {
    return { state: "complete", text: "Every stage is published and verified. Next: mint the NFTs." };
  }
  if (s.planned && !s.planned.current) {
    return {
      state: "changed",
      text: "The collection changed since it was last published: publishing again makes and pins the new version.",
    };
  }
  if (s.planned) {
    const { items, stages } = s.planned;
    const total = items * stages;
    const images = upTo(s.images_ready, total);
    const files = upTo(s.files_ready, total);
    if (images < total) {
      const text =
        images === 0 && files === 0 && s.pins.length === 0
          ? `Planned ${items} items × ${stages} stages, then stopped before the first image. ${RESUMES}.`
          : `Stopped at ${images} of ${total} images. ${RESUMES}: finished images are kept.`;
      return { state: "partial", text, stopped: { what: "images", done: images, total } };
    }
    if (files < total) {
      return {
        state: "partial",
        text: `All ${total} images are made; stopped at ${files} of ${total} metadata files. ${RESUMES}.`,
        stopped: { what: "metadata files", done: files, total },
      };
    }
    const folders = stages * 2 + 1;
    const pinned = upTo(verifiedFolders(s), folders);
    return {
      state: "partial",
      text: `All ${total} images and metadata files are made; ${pinned} of ${folders} folders are pinned and verified. ${RESUMES}: uploads already verified are kept.`,
      stopped: { what: "folders pinned", done: pinned, total: folders },
    };
  }
  // No plan in the journal (a project from before the journal kept one): files or pins
  // still say a run got somewhere.
  if (s.files_ready > 0 || s.pins.length > 0) {
    return {
      state: "partial",
      text: "An earlier run stopped before the end. Publish again to resume: finished images and uploads are kept.",
    };
  }
  return { state: "not-started", text: "Nothing is published yet." };
}

export interface CidRow {
  key: string;
  label: string;
  cid: string;
  /** Where it is pinned and how sure: "local ✓, kubo (pending)". */
  where: string;
}

/** The CIDs to show with copy buttons: each stage's images and metadata folders, and the
 *  collection JSON. */
export function cidRows(s: PublishStatus): CidRow[] {
  const rows: CidRow[] = [];
  const whereOf = (stage: number, folder: string, cid: string) =>
    s.pins
      .filter((p) => p.stage === stage && p.folder === folder && p.cid === cid)
      .map((p) => (p.status === "verified" ? `${p.backend} ✓` : `${p.backend} (${p.status})`))
      .join(", ");
  for (const st of s.stages) {
    if (st.images_cid) {
      rows.push({ key: `${st.stage}-images`, label: `Stage ${st.stage} images`, cid: st.images_cid, where: whereOf(st.stage, "images", st.images_cid) });
    }
    if (st.metadata_cid) {
      rows.push({
        key: `${st.stage}-metadata`,
        label: `Stage ${st.stage} metadata`,
        cid: st.metadata_cid,
        where: whereOf(st.stage, "metadata", st.metadata_cid),
      });
    }
  }
  const coll = s.pins.filter((p) => p.folder === "collection").sort((a, b) => b.updated_at - a.updated_at)[0];
  if (coll) rows.push({ key: "collection", label: "Collection JSON", cid: coll.cid, where: whereOf(0, "collection", coll.cid) });
  return rows;
}

/** Copies `text` to the clipboard; false when the clipboard is not available. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
