import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import type { Channel } from "@tauri-apps/api/core";
import { describe, expect, test, vi } from "vitest";
import type { PipelineEvent, PublishStatus } from "../lib/bindings";
import { studio } from "../lib/studio.svelte";
import { backend, fail } from "../test/backend";
import { channelSender, commandError, deferred, MOTHS, SHARD_JOB } from "../test/fixtures";
import Publish from "./Publish.svelte";

const EMPTY: PublishStatus = { has_spec: false, planned: null, images_ready: 0, files_ready: 0, stages: [], pins: [], complete: false };
const READY: PublishStatus = { ...EMPTY, has_spec: true };
const DONE: PublishStatus = {
  has_spec: true,
  planned: { items: 12, stages: 1, spec_sha256: "ab", current: true },
  images_ready: 12,
  files_ready: 12,
  stages: [{ stage: 0, images_cid: "QmImages", metadata_cid: "QmMeta", base_uri: "ipfs://QmMeta/" }],
  pins: [
    { stage: 0, folder: "images", backend: "local", endpoint: "store", cid: "QmImages", status: "verified", updated_at: 1 },
    { stage: 0, folder: "metadata", backend: "local", endpoint: "store", cid: "QmMeta", status: "verified", updated_at: 1 },
    { stage: 0, folder: "collection", backend: "local", endpoint: "store", cid: "QmColl", status: "verified", updated_at: 1 },
  ],
  complete: true,
};

describe("Publish", () => {
  test("a project without a collection is offered the demo one", async () => {
    let status = EMPTY;
    const calls = backend({
      shard_job: () => null,
      publish_status: () => status,
      use_demo_collection: () => {
        status = READY;
        return true;
      },
    });
    const user = userEvent.setup();
    render(Publish, { project: MOTHS });
    await user.click(await screen.findByTestId("use-demo"));
    await vi.waitFor(() => expect(screen.getByTestId("publish-state")).toHaveAttribute("data-state", "not-started"));
    expect(calls.map((c) => c.cmd)).toContain("use_demo_collection");
    expect(screen.getByTestId("publish-run")).toBeEnabled();
  });

  test("publishing streams progress, then lists the CIDs with copy buttons and leads to Mint", async () => {
    let status = READY;
    const job = deferred<unknown>();
    let send: ((e: PipelineEvent) => void) | undefined;
    const calls = backend({
      shard_job: () => null,
      publish_status: () => status,
      publish_run: (args) => {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        send = channelSender(args.onEvent as Channel<any>) as unknown as (e: PipelineEvent) => void;
        return job.promise;
      },
    });
    const user = userEvent.setup();
    render(Publish, { project: MOTHS });
    await user.click(await screen.findByTestId("publish-run"));
    expect(calls.at(-1)).toMatchObject({
      cmd: "publish_run",
      args: { request: { backend: "local", endpoint: null, arweave_wallet: null, layout: "v0" } },
    });
    send!({ phase: "generate", step: 3, total: 12, message: "#3 stage 0", index: 3, stage: 0, bytes: null });
    const progress = await screen.findByTestId("publish-progress");
    await vi.waitFor(() => expect(progress).toHaveTextContent("3 of 12"));
    expect(progress).toHaveTextContent("Generating images");
    status = DONE;
    job.resolve({ plan: { items: 12, stages: 1 }, generate: { generated: 12, reused: 0, metadata_written: 12 } });
    expect(await screen.findByTestId("publish-done")).toHaveTextContent("12 items × 1 stages");
    await vi.waitFor(() => expect(screen.getAllByTestId("cid-row")).toHaveLength(3));
    expect(screen.getAllByTestId("cid-row")[0]).toHaveTextContent("QmImages");
    await user.click(screen.getByTestId("go-mint"));
    expect(studio.screen).toBe("mint");
  });

  test("a pinning service needs its address; a failed run shows why", async () => {
    backend({
      shard_job: () => null,
      publish_status: () => READY,
      credential_status: () => ({ backend: "psa", account: "psa@x", env: "PSA_TOKEN", from_env: false, in_keyring: false, keyring_error: null }),
      publish_run: fail(commandError("storage", "Kubo at http://127.0.0.1:5001 is not reachable.")),
    });
    const user = userEvent.setup();
    render(Publish, { project: MOTHS });
    await user.click(await screen.findByTestId("backend-psa"));
    expect(screen.getByTestId("publish-run")).toBeDisabled();
    expect(await screen.findByTestId("token-status")).toHaveTextContent("No token saved yet.");
    await user.type(screen.getByTestId("endpoint"), "https://psa.example");
    await user.click(screen.getByTestId("publish-run"));
    expect(await screen.findByTestId("error-message")).toHaveTextContent("not reachable");
  });

  test("after a crash the screen says how far the journal got, and offers to resume", async () => {
    const crashed: PublishStatus = {
      ...READY,
      planned: { items: 12, stages: 3, spec_sha256: "ab", current: true },
      images_ready: 21,
    };
    backend({ publish_status: () => crashed, shard_job: () => null });
    render(Publish, { project: MOTHS });
    const state = await screen.findByTestId("publish-state");
    await vi.waitFor(() => expect(state).toHaveAttribute("data-state", "partial"));
    expect(state).toHaveTextContent("Stopped at 21 of 36 images. Publish again and it resumes from there");
    expect(state).not.toHaveTextContent("Nothing is published yet");
    const bar = screen.getByTestId("publish-stopped").querySelector('[role="progressbar"]')!;
    expect(bar).toHaveAttribute("aria-valuenow", "58");
    expect(screen.getByTestId("publish-stopped")).toHaveTextContent("21 of 36 images");
    expect(screen.getByTestId("publish-run")).toHaveTextContent("Resume publishing");
  });

  test("a spec error shows at the top, and the step that failed shows as failed", async () => {
    let send: ((e: PipelineEvent) => void) | undefined;
    const job = deferred<unknown>();
    backend({
      shard_job: () => null,
      publish_status: () => READY,
      publish_run: (args) => {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        send = channelSender(args.onEvent as Channel<any>) as unknown as (e: PipelineEvent) => void;
        return job.promise;
      },
    });
    const user = userEvent.setup();
    render(Publish, { project: MOTHS });
    await user.click(await screen.findByTestId("publish-run"));
    send!({ phase: "plan", step: 0, total: 1, message: "planning collection.toml", index: null, stage: null, bytes: null });
    const progress = await screen.findByTestId("publish-progress");
    await vi.waitFor(() => expect(progress).toHaveTextContent("0 of 1"));
    expect(progress).toHaveAttribute("data-state", "running");
    job.reject(commandError("spec", "`traits[0].values`: quotas add up to 13, the collection has 12 items"));

    const error = await screen.findByTestId("publish-error");
    expect(error).toHaveTextContent("quotas add up to 13");
    // Above everything else: the state card, the progress card and the form.
    const before = (a: Element, b: Element) => !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
    expect(before(error, screen.getByTestId("publish-state"))).toBe(true);
    expect(before(error, progress)).toBe(true);
    expect(before(error, screen.getByTestId("publish-run"))).toBe(true);
    // The failed step: not a full bar, and it says it failed.
    await vi.waitFor(() => expect(progress).toHaveAttribute("data-state", "failed"));
    expect(progress).toHaveTextContent("Planning: failed");
    expect(progress).toHaveTextContent("stopped at 0 of 1");
    const bar = progress.querySelector('[role="progressbar"]')!;
    expect(bar).toHaveAttribute("aria-valuenow", "0");
    expect(bar).toHaveAttribute("data-failed", "true");
    // The way to fix it is one click; dismissing the error keeps the step's failed state.
    await user.click(screen.getByTestId("fix-spec"));
    expect(studio.screen).toBe("collection");
    await user.click(screen.getByRole("button", { name: "Dismiss" }));
    expect(screen.queryByTestId("publish-error")).toBeNull();
    expect(progress).toHaveAttribute("data-state", "failed");
  });

  test("a run that succeeds shows a full bar", async () => {
    let send: ((e: PipelineEvent) => void) | undefined;
    const job = deferred<unknown>();
    backend({
      shard_job: () => null,
      publish_status: () => READY,
      publish_run: (args) => {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        send = channelSender(args.onEvent as Channel<any>) as unknown as (e: PipelineEvent) => void;
        return job.promise;
      },
    });
    const user = userEvent.setup();
    render(Publish, { project: MOTHS });
    await user.click(await screen.findByTestId("publish-run"));
    send!({ phase: "pin", step: 1, total: 3, message: "pinning", index: null, stage: 0, bytes: null });
    const progress = await screen.findByTestId("publish-progress");
    await vi.waitFor(() => expect(progress).toHaveTextContent("1 of 3"));
    job.resolve({ plan: { items: 12, stages: 1 }, generate: null });
    await vi.waitFor(() => expect(progress).toHaveAttribute("data-state", "done"));
    expect(progress.querySelector('[role="progressbar"]')).toHaveAttribute("aria-valuenow", "100");
  });

  test("a shard job folder only makes its own shard, with progress, and says where to take it", async () => {
    const job = deferred<unknown>();
    let send: ((e: PipelineEvent) => void) | undefined;
    const calls = backend({
      publish_status: () => READY,
      shard_job: () => ({
        ...SHARD_JOB,
        shard: { index: 2, count: 3 },
        command: "chrysalis publish --project . --only generate --shard 2/3",
      }),
      shard_run: (args) => {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        send = channelSender(args.onEvent as Channel<any>) as unknown as (e: PipelineEvent) => void;
        return job.promise;
      },
    });
    const user = userEvent.setup();
    render(Publish, { project: MOTHS });
    expect(await screen.findByTestId("shard-job-text")).toHaveTextContent("shard job 2/3 of “Moths of Night”: it makes 12 images");
    expect(screen.getByText(/Make this machine's share of/)).toHaveTextContent("the images of shard 2/3");
    // Nothing else to do here: no publish form, no export, no state of a full run.
    expect(screen.queryByTestId("publish-run")).toBeNull();
    expect(screen.queryByTestId("shard-jobs")).toBeNull();
    expect(screen.queryByTestId("publish-state")).toBeNull();
    await user.click(screen.getByTestId("shard-run"));
    expect(calls.at(-1)?.cmd).toBe("shard_run");
    send!({ phase: "generate", step: 5, total: 12, message: "#8 stage 1", index: 8, stage: 1, bytes: null });
    const progress = await screen.findByTestId("publish-progress");
    await vi.waitFor(() => expect(progress).toHaveTextContent("5 of 12"));
    expect(screen.getByTestId("shard-run-cancel")).toBeInTheDocument();
    job.resolve({ plan: { items: 12, stages: 3 }, generate: { generated: 12, reused: 0, metadata_written: 0 } });
    expect(await screen.findByTestId("shard-run-done")).toHaveTextContent("12 made now, 0 kept from before");
    expect(screen.getByTestId("shard-run-done")).toHaveTextContent("Import results");
    expect(screen.queryByTestId("publish-done")).toBeNull();
  });

  test("a project with a collection offers several machines", async () => {
    backend({ publish_status: () => ({ ...READY, planned: { items: 12, stages: 3, spec_sha256: "ab", current: true } }), shard_job: () => null });
    render(Publish, { project: MOTHS });
    expect(await screen.findByTestId("shard-jobs")).toHaveTextContent("Several machines");
    expect(screen.getByTestId("shard-pick")).toBeEnabled();
    expect(screen.getByTestId("shard-export")).toBeDisabled(); // until a folder is chosen
    expect(screen.queryByTestId("shard-job")).toBeNull();
  });
});
