import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, test, vi } from "vitest";
import type { NftTimeline, Timeline } from "../lib/bindings";
import { backend, fail } from "../test/backend";
import { commandError, MOTHS } from "../test/fixtures";
import Evolve from "./Evolve.svelte";

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

  test("before minting it says so and points to Mint", async () => {
    backend({ evolve_timeline: fail(commandError("invalidInput", "This project has no collection on sandbox yet.")) });
    render(Evolve, { project: MOTHS });
    expect(await screen.findByTestId("error-message")).toHaveTextContent("no collection on sandbox yet");
    expect(screen.getByRole("button", { name: "Go to Mint" })).toBeInTheDocument();
  });
});
