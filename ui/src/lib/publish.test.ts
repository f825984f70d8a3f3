import type { Channel } from "@tauri-apps/api/core";
import { describe, expect, test } from "vitest";
import type { PipelineEvent, PublishStatus } from "./bindings";
import {
  backendInfo,
  cidRows,
  formatDuration,
  formProblem,
  ProgressTracker,
  publishRequest,
  publishRun,
  publishState,
  publishStatus,
  tokenEndpoint,
  useDemoCollection,
} from "./publish";
import { backend, fail } from "../test/backend";
import { channelSender, commandError } from "../test/fixtures";

const ev = (phase: PipelineEvent["phase"], step: number, total: number, bytes: number | null = null): PipelineEvent => ({
  phase,
  step,
  total,
  message: `${phase} ${step}`,
  index: null,
  stage: null,
  bytes,
});

const STATUS: PublishStatus = {
  has_spec: true,
  planned: { items: 12, stages: 2, spec_sha256: "ab", current: true },
  images_ready: 24,
  files_ready: 24,
  stages: [
    { stage: 0, images_cid: "QmI0", metadata_cid: "QmM0", base_uri: "ipfs://QmM0/" },
    { stage: 1, images_cid: "QmI1", metadata_cid: "QmM1", base_uri: "ipfs://QmM1/" },
  ],
  pins: [
    { stage: 0, folder: "images", backend: "local", endpoint: "store", cid: "QmI0", status: "verified", updated_at: 1 },
    { stage: 0, folder: "images", backend: "kubo", endpoint: "http://127.0.0.1:5001", cid: "QmI0", status: "pending", updated_at: 2 },
    { stage: 0, folder: "metadata", backend: "local", endpoint: "store", cid: "QmM0", status: "verified", updated_at: 1 },
    { stage: 0, folder: "collection", backend: "local", endpoint: "store", cid: "QmOld", status: "verified", updated_at: 1 },
    { stage: 0, folder: "collection", backend: "local", endpoint: "store", cid: "QmColl", status: "verified", updated_at: 5 },
  ],
  complete: false,
};

describe("publish form", () => {
  test("requests carry only what the chosen backend uses; blanks mean defaults", () => {
    expect(publishRequest({ backend: "local", endpoint: "http://x", wallet: "/w.json", layout: "v0" })).toEqual({
      backend: "local",
      endpoint: null,
      arweave_wallet: null,
      layout: "v0",
    });
    expect(publishRequest({ backend: "kubo", endpoint: "  ", wallet: "", layout: "" })).toEqual({
      backend: "kubo",
      endpoint: null,
      arweave_wallet: null,
      layout: null,
    });
    expect(publishRequest({ backend: "arweave", endpoint: " http://localhost:1984 ", wallet: " /k.json ", layout: "v1" })).toEqual({
      backend: "arweave",
      endpoint: "http://localhost:1984",
      arweave_wallet: "/k.json",
      layout: "v1",
    });
  });

  test("the form names what is missing before anything runs", () => {
    expect(formProblem({ backend: "local", endpoint: "", wallet: "" })).toBeNull();
    expect(formProblem({ backend: "psa", endpoint: "", wallet: "" })).toContain("API address");
    expect(formProblem({ backend: "psa", endpoint: "https://psa.example", wallet: "" })).toBeNull();
    expect(formProblem({ backend: "arweave", endpoint: "", wallet: "" })).toContain("Arweave wallet");
  });

  test("tokens are filed under the address, or the backend's default one", () => {
    expect(tokenEndpoint(backendInfo("pinata"), "")).toBe("https://uploads.pinata.cloud/v3");
    expect(tokenEndpoint(backendInfo("kubo"), " http://node:5001 ")).toBe("http://node:5001");
    expect(backendInfo("nonsense").id).toBe("local");
  });
});

describe("progress", () => {
  test("items, bytes and an ETA from the phase's rate", () => {
    let now = 0;
    const t = new ProgressTracker(() => now);
    expect(t.push(ev("generate", 0, 10))).toMatchObject({ label: "Generating images", percent: 0, items: "0 of 10", eta: "" });
    now = 4_000;
    const v = t.push(ev("generate", 2, 10));
    expect(v).toMatchObject({ percent: 20, items: "2 of 10", eta: "about 16 s left", bytes: "" });
    // Pinning: bytes within a folder, then the folder completes and counts as done.
    t.push(ev("pin", 0, 2, 1024));
    t.push(ev("pin", 0, 2, 2048));
    t.push(ev("pin", 1, 2));
    expect(t.push(ev("pin", 1, 2, 1024)).bytes).toBe("3.0 KB");
    // Unknown totals: no percent, no ETA.
    expect(t.push(ev("plan", 0, 0))).toMatchObject({ percent: null, items: "0", eta: "" });
  });

  test("durations in words", () => {
    expect(formatDuration(0.2)).toBe("1 s");
    expect(formatDuration(42)).toBe("42 s");
    expect(formatDuration(600)).toBe("10 min");
    expect(formatDuration(3_900)).toBe("1 h 5 min");
    expect(formatDuration(-1)).toBe("");
  });
});

describe("where publishing stands", () => {
  test("each state says what to do next", () => {
    expect(publishState({ ...STATUS, has_spec: false }).state).toBe("no-spec");
    expect(publishState({ ...STATUS, complete: true })).toMatchObject({ state: "complete" });
    expect(publishState({ ...STATUS, planned: { ...STATUS.planned!, current: false } }).state).toBe("changed");
    const partial = publishState(STATUS);
    expect(partial.state).toBe("partial");
    expect(partial.text).toContain("resume");
    expect(publishState({ ...STATUS, files_ready: 0, pins: [], planned: null }).state).toBe("not-started");
  });

  test("after a crash the journal says how far the run got, at the step where it stopped", () => {
    const planned = { items: 12, stages: 3, spec_sha256: "ab", current: true };
    const crashed = { ...STATUS, planned, images_ready: 21, files_ready: 0, stages: [], pins: [] };
    expect(publishState(crashed)).toEqual({
      state: "partial",
      text: "Stopped at 21 of 36 images. Publish again and it resumes from there: finished images are kept.",
      stopped: { what: "images", done: 21, total: 36 },
    });
    // Planned, then stopped before the first image: still not "nothing".
    const planOnly = publishState({ ...crashed, images_ready: 0 });
    expect(planOnly.state).toBe("partial");
    expect(planOnly.text).toContain("Planned 12 items × 3 stages, then stopped before the first image");
    expect(planOnly.stopped).toEqual({ what: "images", done: 0, total: 36 });
    // Every image made, metadata part-way.
    expect(publishState({ ...crashed, images_ready: 36, files_ready: 10 })).toMatchObject({
      state: "partial",
      text: expect.stringContaining("All 36 images are made; stopped at 10 of 36 metadata files"),
      stopped: { what: "metadata files", done: 10, total: 36 },
    });
    // Everything made, pinning part-way: folders count once whatever the backends, and only
    // verified ones (3 stages x 2 folders + the collection JSON = 7).
    const pinning = publishState({ ...crashed, images_ready: 36, files_ready: 36, pins: STATUS.pins });
    expect(pinning.text).toContain("3 of 7 folders are pinned and verified");
    expect(pinning.stopped).toEqual({ what: "folders pinned", done: 3, total: 7 });
    // The journal never counts past the plan.
    expect(publishState({ ...crashed, images_ready: 99, files_ready: 0 }).stopped).toEqual({ what: "metadata files", done: 0, total: 36 });
  });

  test("CID rows list every folder, where it is pinned, and the newest collection JSON", () => {
    const rows = cidRows(STATUS);
    expect(rows.map((r) => r.key)).toEqual(["0-images", "0-metadata", "1-images", "1-metadata", "collection"]);
    expect(rows[0]).toMatchObject({ cid: "QmI0", where: "local ✓, kubo (pending)" });
    expect(rows[3].where).toBe("");
    expect(rows[4]).toMatchObject({ cid: "QmColl", where: "local ✓" });
  });
});

describe("publish commands (mocked IPC)", () => {
  test("publish_run sends the request and streams events", async () => {
    const seen: PipelineEvent[] = [];
    const calls = backend({
      publish_run: (args) => {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const send = channelSender(args.onEvent as Channel<any>) as unknown as (e: PipelineEvent) => void;
        send(ev("pin", 1, 2, 10));
        return { plan: { items: 1 } };
      },
      publish_status: () => STATUS,
      use_demo_collection: () => true,
    });
    const request = publishRequest({ backend: "local", endpoint: "", wallet: "", layout: "v0" });
    const report = await publishRun(request, (e) => seen.push(e));
    expect(report).toEqual({ plan: { items: 1 } });
    expect(calls[0]).toMatchObject({ cmd: "publish_run", args: { request } });
    await expect.poll(() => seen.length).toBe(1);
    expect(seen[0].bytes).toBe(10);
    expect(await publishStatus()).toEqual(STATUS);
    expect(await useDemoCollection()).toBe(true);
  });

  test("errors come back as CommandErrors", async () => {
    backend({ publish_status: fail(commandError("noProject", "No project is open.")) });
    await expect(publishStatus()).rejects.toEqual({ kind: "noProject", message: "No project is open." });
    backend({ publish_status: fail("a string from Tauri") });
    await expect(publishStatus()).rejects.toMatchObject({ kind: "internal" });
  });
});
