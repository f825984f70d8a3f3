import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import type { Channel } from "@tauri-apps/api/core";
import { describe, expect, test, vi } from "vitest";
import type { ImportReport, JobsExport, PipelineEvent, ShardCheck } from "../bindings";
import { backend, fail } from "../../test/backend";
import { channelSender, commandError, deferred, SHARD_JOB } from "../../test/fixtures";
import ShardJobs from "./ShardJobs.svelte";

const job = (k: number) => ({
  shard: { index: k, count: 3 },
  dir: `/home/ada/jobs/moths-of-night-shard-${k}-of-3`,
  shard_items: 4,
  images: 12,
  command: `chrysalis publish --project . --only generate --shard ${k}/3`,
});
const EXPORT: JobsExport = { collection: "Moths of Night", dest: "/home/ada/jobs", items: 12, stages: 3, jobs: [0, 1, 2].map(job), model: null };
const DIR = "/home/ada/jobs/moths-of-night-shard-1-of-3";
const CHECK: ShardCheck = {
  dir: DIR,
  job: SHARD_JOB,
  found: 11,
  expected: 12,
  problem: null,
  notes: ["1 of 12 images are not made yet: the job stopped early?"],
};

describe("Several machines", () => {
  test("exports one job per machine into a chosen folder and lists each command with a copy button", async () => {
    const calls = backend({ "plugin:dialog|open": () => "/home/ada/jobs", shard_export: () => EXPORT });
    const user = userEvent.setup();
    render(ShardJobs, { items: 12 });
    const count = screen.getByTestId("shard-count");
    await user.clear(count);
    await user.type(count, "13");
    expect(await screen.findByTestId("shard-count-problem")).toHaveTextContent("at most 12 machines");
    expect(screen.getByTestId("shard-export")).toBeDisabled();
    await user.clear(count);
    await user.type(count, "3");
    expect(screen.getByTestId("shard-export")).toBeDisabled();
    await user.click(screen.getByTestId("shard-dest-browse"));
    await vi.waitFor(() => expect(screen.getByTestId("shard-dest")).toHaveValue("/home/ada/jobs"));
    expect(calls.filter((c) => c.cmd === "shard_export")).toHaveLength(0);
    await user.click(screen.getByTestId("shard-export"));
    expect(await screen.findByTestId("shard-exported")).toHaveTextContent("3 job folders for “Moths of Night” are in /home/ada/jobs");
    expect(calls.find((c) => c.cmd === "shard_export")?.args).toEqual({ dest: "/home/ada/jobs", count: 3 });
    const rows = screen.getAllByTestId("shard-job-row");
    expect(rows).toHaveLength(3);
    expect(rows[1]).toHaveTextContent("1/3");
    expect(rows[1]).toHaveTextContent("moths-of-night-shard-1-of-3");
    expect(rows[1]).toHaveTextContent("chrysalis publish --project . --only generate --shard 1/3");
    expect(screen.getByRole("button", { name: "Copy the command of shard 2/3" })).toBeInTheDocument();
  });

  test("a cancelled folder dialog changes nothing; a typed folder works; a refused export says why", async () => {
    const calls = backend({
      "plugin:dialog|open": () => null,
      shard_export: fail(commandError("invalidInput", "`/home/ada/jobs/moths-of-night-shard-0-of-3` already exists")),
    });
    const user = userEvent.setup();
    render(ShardJobs, { items: 12 });
    await user.click(screen.getByTestId("shard-dest-browse"));
    expect(calls.map((c) => c.cmd)).toEqual(["plugin:dialog|open"]);
    expect(screen.getByTestId("shard-dest")).toHaveValue("");
    expect(screen.getByTestId("shard-export")).toBeDisabled();
    await user.type(screen.getByTestId("shard-dest"), "~/jobs{Enter}");
    expect(calls.at(-1)).toEqual({ cmd: "shard_export", args: { dest: "~/jobs", count: 3 } });
    expect(await screen.findByTestId("error-message")).toHaveTextContent("already exists");
    expect(screen.queryByTestId("shard-exported")).toBeNull();
  });

  test("import results: the folder is checked first, then imported with progress; refused images are listed", async () => {
    const job = deferred<ImportReport>();
    let send: ((e: PipelineEvent) => void) | undefined;
    const onimported = vi.fn();
    const calls = backend({
      "plugin:dialog|open": () => DIR,
      shard_inspect: () => CHECK,
      shard_import: (args) => {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        send = channelSender(args.onEvent as Channel<any>) as unknown as (e: PipelineEvent) => void;
        return job.promise;
      },
    });
    const user = userEvent.setup();
    render(ShardJobs, { items: 12, onimported });
    await user.click(screen.getByTestId("shard-pick"));
    const check = await screen.findByTestId("shard-check");
    expect(check).toHaveTextContent("Shard job 1/3 of “Moths of Night”: 11 of 12 images found.");
    expect(screen.getByTestId("shard-note")).toHaveTextContent("not made yet");
    expect(calls.find((c) => c.cmd === "shard_inspect")?.args).toEqual({ dir: DIR });
    await user.click(screen.getByTestId("shard-import"));
    expect(calls.at(-1)).toMatchObject({ cmd: "shard_import", args: { dir: DIR } });
    send!({ phase: "generate", step: 7, total: 36, message: "imported #5 stage 0", index: 5, stage: 0, bytes: null });
    const progress = await screen.findByTestId("shard-progress");
    await vi.waitFor(() => expect(progress).toHaveTextContent("7 of 36"));
    expect(progress).toHaveTextContent("Importing and checking images");
    expect(screen.getByTestId("shard-cancel")).toBeInTheDocument();
    job.resolve({
      shard: { index: 1, count: 3 },
      imported: 10,
      already: 0,
      missing: 1,
      refused: [{ file: `${DIR}/build/stage-2/images/4.png`, index: 4, stage: 2, reason: "its recipe 12ab is not the one planned for item 4 stage 2 (34cd)" }],
    });
    const done = await screen.findByTestId("shard-imported");
    expect(done).toHaveTextContent("10 images imported, 1 refused.");
    expect(done).toHaveTextContent("1 image of this shard is not made yet");
    const refused = screen.getAllByTestId("shard-refused-row");
    expect(refused).toHaveLength(1);
    expect(refused[0]).toHaveTextContent("#4");
    expect(refused[0]).toHaveTextContent("not the one planned for item 4 stage 2");
    expect(onimported).toHaveBeenCalledOnce();
    expect(screen.queryByTestId("shard-progress")).toBeNull(); // the result replaces it
    expect(screen.queryByTestId("shard-cancel")).toBeNull();
  });

  test("a folder that cannot be imported shows why and offers no import; a cancelled import says so", async () => {
    let check: ShardCheck = { ...CHECK, found: 0, notes: [], problem: "`/x/collection.toml` was made from another collection.toml than this project's" };
    const job = deferred<ImportReport>();
    const calls = backend({
      shard_inspect: () => check,
      shard_import: (args) => {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        channelSender(args.onEvent as Channel<any>)({ phase: "generate", step: 2, total: 36, message: "imported #1 stage 1", index: 1, stage: 1, bytes: null });
        return job.promise;
      },
      cancel_job: () => {
        job.reject(commandError("cancelled", "Cancelled."));
        return true;
      },
    });
    const user = userEvent.setup();
    render(ShardJobs, { items: 12 });
    await user.type(screen.getByTestId("shard-from"), DIR);
    await user.click(screen.getByTestId("shard-check-folder"));
    const shown = await screen.findByTestId("shard-check");
    expect(shown).toHaveAttribute("data-importable", "false");
    expect(shown).toHaveTextContent("another collection.toml");
    expect(screen.queryByTestId("shard-import")).toBeNull();

    check = CHECK;
    await user.click(screen.getByTestId("shard-check-folder"));
    await user.click(await screen.findByTestId("shard-import"));
    await user.click(await screen.findByTestId("shard-cancel"));
    expect(calls.map((c) => c.cmd)).toContain("cancel_job");
    const progress = await screen.findByTestId("shard-progress");
    await vi.waitFor(() => expect(progress).toHaveAttribute("data-state", "cancelled"));
    expect(screen.queryByTestId("shard-imported")).toBeNull();
  });

  test("nothing starts while publishing runs", () => {
    backend({});
    render(ShardJobs, { items: 12, busy: true });
    expect(screen.getByTestId("shard-export")).toBeDisabled();
    expect(screen.getByTestId("shard-pick")).toBeDisabled();
    expect(screen.getByTestId("shard-dest-browse")).toBeDisabled();
  });
});
