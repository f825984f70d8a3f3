import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import type { Channel } from "@tauri-apps/api/core";
import { describe, expect, test, vi } from "vitest";
import type { PipelineEvent, PublishStatus } from "../lib/bindings";
import { studio } from "../lib/studio.svelte";
import { backend, fail } from "../test/backend";
import { channelSender, commandError, deferred, MOTHS } from "../test/fixtures";
import Publish from "./Publish.svelte";

const EMPTY: PublishStatus = { has_spec: false, planned: null, files_ready: 0, stages: [], pins: [], complete: false };
const READY: PublishStatus = { ...EMPTY, has_spec: true };
const DONE: PublishStatus = {
  has_spec: true,
  planned: { items: 12, stages: 1, spec_sha256: "ab", current: true },
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
});
