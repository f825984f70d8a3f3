import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, test, vi } from "vitest";
import type { NftTimeline, StageImage, Timeline } from "../lib/bindings";
import { backend, fail } from "../test/backend";
import { commandError, MOTHS, PIXEL } from "../test/fixtures";
import Evolve from "./Evolve.svelte";

const image = (stage: number, index: number, exists = false): StageImage => ({
  stage,
  path: `build/stage-${stage}/images/${index}.png`,
  exists,
});

const nft = (index: number, stage: number, due: boolean, owner = false): NftTimeline => ({
  index,
  mint: `Mint${index}`,
  name: `Demo #${index}`,
  stage,
  uri: "",
  minted_at: 0,
  next: owner
    ? { stage: stage + 1, rule: { kind: "owner" }, due_at: null, due: false }
    : { stage: stage + 1, rule: { kind: "after_mint", seconds: 86_400 }, due_at: 86_400, due },
  explorer_url: null,
  image: image(stage, index),
  next_image: image(stage + 1, index),
});

const timeline = (now: number, nfts: NftTimeline[]): Timeline => ({
  network: "sandbox",
  collection: "Coll",
  now,
  can_warp: true,
  authority: "Art1st",
  stages: [
    { stage: 0, rule: { kind: "after_mint", seconds: 0 }, base_uri: "" },
    { stage: 1, rule: { kind: "after_mint", seconds: 86_400 }, base_uri: "" },
    { stage: 2, rule: { kind: "owner" }, base_uri: "" },
  ],
  nfts,
  due: nfts.filter((n) => n.next?.due).length,
});

describe("Evolve", () => {
  test("warp the clock, crank what is due, then trigger the owner stage", async () => {
    let t = timeline(0, [nft(0, 0, false), nft(1, 0, false)]);
    const calls = backend({
      evolve_timeline: () => t,
      warp_clock: () => {
        t = timeline(86_400, [nft(0, 0, true), nft(1, 0, true)]);
        return 86_400;
      },
      evolve_due: () => {
        t = timeline(86_400, [nft(0, 1, false, true), nft(1, 1, false, true)]);
        return { collection: "Coll", now: 86_400, evolved: [{ signature: "a" }, { signature: "b" }] };
      },
      evolve_trigger: () => ({ collection: "Coll", now: 86_400, evolved: [{ signature: "c" }] }),
      verify_nft: () => ({
        mint: "Mint0",
        ok: true,
        regenerated_differs: false,
        index: 0,
        stage: 1,
        uri: null,
        collection: null,
        checks: [{ name: "chain", status: "pass", detail: "" }],
      }),
    });
    const user = userEvent.setup();
    render(Evolve, { project: MOTHS });
    expect(await screen.findByTestId("crank")).toHaveTextContent("Crank all due (0)");
    expect(screen.getByTestId("crank")).toBeDisabled();
    expect(screen.getAllByTestId("nft-row")[0]).toHaveAttribute("data-state", "waiting");
    await user.click(screen.getByTestId("warp-1d"));
    await vi.waitFor(() => expect(screen.getByTestId("crank")).toHaveTextContent("(2)"));
    expect(calls.find((c) => c.cmd === "warp_clock")!.args).toEqual({ chain: { network: "sandbox", wallet: null }, duration: "1d" });
    await user.click(screen.getByTestId("crank"));
    expect(await screen.findByTestId("evolve-done")).toHaveTextContent("2 evolutions made.");
    await vi.waitFor(() => expect(screen.getAllByTestId("nft-row").map((r) => r.dataset.stage)).toEqual(["1", "1"]));
    await user.click(screen.getAllByTestId("trigger")[1]);
    expect(calls.find((c) => c.cmd === "evolve_trigger")!.args).toMatchObject({ index: 1, toStage: 2 });
    await user.click(screen.getAllByTestId("verify")[0]);
    const verdict = await screen.findByTestId("verify-result");
    expect(verdict).toHaveAttribute("data-ok", "true");
    expect(verdict).toHaveTextContent("Verified: 1 checks passed.");
    expect(calls.find((c) => c.cmd === "verify_nft")!.args).toMatchObject({ mint: "Mint0" });
  });

  test("each NFT shows its stage image now and the next one; a missing image says so", async () => {
    const here = { ...nft(0, 0, false), image: image(0, 0, true), next_image: image(1, 0, true) };
    const elsewhere = { ...nft(1, 1, false), image: image(1, 1, true), next_image: image(2, 1, false) };
    const last = { ...nft(2, 2, false), next: null, image: image(2, 2, true), next_image: null };
    const broken = { ...nft(3, 0, false), image: image(0, 3, true), next_image: null };
    const calls = backend({
      evolve_timeline: () => timeline(0, [here, elsewhere, last, broken]),
      stage_image: (args) =>
        args.index === 3 ? Promise.reject(commandError("engine", "build/stage-0/images/3.png is not a PNG.")) : PIXEL,
    });
    render(Evolve, { project: MOTHS });
    const rows = await screen.findAllByTestId("nft-row");
    await vi.waitFor(() => expect(rows[0].querySelector('[data-role="next"]')).toHaveAttribute("data-state", "loaded"));
    const [now, next] = within(rows[0]).getAllByTestId("stage-thumb");
    expect(now).toHaveAttribute("data-stage", "0");
    expect(within(now).getByRole("img")).toHaveAttribute("src", PIXEL);
    expect(within(now).getByRole("img")).toHaveAccessibleName("Demo #0 at stage 0");
    expect(within(next).getByRole("img")).toHaveAccessibleName("Demo #0 at stage 1 (next)");
    expect(next).toHaveTextContent("Next");

    // Not generated on this computer: a placeholder that says so, no image to break.
    const missing = within(rows[1]).getAllByTestId("stage-thumb")[1];
    expect(missing).toHaveAttribute("data-state", "missing");
    expect(missing.querySelector("img")).toBeNull();
    expect(within(missing).getByRole("img")).toHaveAccessibleName(
      "Stage 2 image not generated on this computer (build/stage-2/images/1.png)",
    );
    expect(missing).toHaveTextContent("Not here");
    // The last stage has no next image; an unreadable one says why.
    expect(within(rows[2]).getAllByTestId("stage-thumb")).toHaveLength(1);
    await vi.waitFor(() => expect(within(rows[3]).getByTestId("stage-thumb")).toHaveAttribute("data-state", "error"));
    expect(within(within(rows[3]).getByTestId("stage-thumb")).getByRole("img")).toHaveAccessibleName(
      "No thumbnail: build/stage-0/images/3.png is not a PNG.",
    );

    // Only images on this computer are asked for, each once.
    const asked = calls.filter((c) => c.cmd === "stage_image").map((c) => `${c.args.stage}/${c.args.index}`);
    expect(asked.sort()).toEqual(["0/0", "0/3", "1/0", "1/1", "2/2"]);
  });

  test("before minting it says so and points to Mint", async () => {
    backend({ evolve_timeline: fail(commandError("invalidInput", "This project has no collection on sandbox yet.")) });
    render(Evolve, { project: MOTHS });
    expect(await screen.findByTestId("error-message")).toHaveTextContent("no collection on sandbox yet");
    expect(screen.getByRole("button", { name: "Go to Mint" })).toBeInTheDocument();
  });
});
