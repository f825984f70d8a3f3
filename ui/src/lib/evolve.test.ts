import { describe, expect, test } from "vitest";
import type { NftTimeline, Timeline } from "./bindings";
import {
  evolveDue,
  evolveTimeline,
  evolveTrigger,
  imageKey,
  imagesToLoad,
  missingImageText,
  nextDueAt,
  nftState,
  rowImages,
  ruleText,
  spanText,
  stageCounts,
  stageImage,
  triggerFor,
  verifyNft,
  verifyText,
  warpClock,
  warpFor,
} from "./evolve";
import { backend, fail } from "../test/backend";
import { commandError } from "../test/fixtures";

const nft = (index: number, stage: number, next: NftTimeline["next"]): NftTimeline => ({
  index,
  mint: `Mint${index}`,
  name: `Demo #${index}`,
  stage,
  uri: `ipfs://x/${index}.json`,
  minted_at: 1_000,
  next,
  explorer_url: null,
  image: { stage, path: `build/stage-${stage}/images/${index}.png`, exists: true },
  next_image: next ? { stage: next.stage, path: `build/stage-${next.stage}/images/${index}.png`, exists: index !== 1 } : null,
});

const TIMELINE: Timeline = {
  network: "sandbox",
  collection: "Coll",
  now: 1_000 + 3_600,
  can_warp: true,
  authority: "Art1st",
  stages: [
    { stage: 0, rule: { kind: "after_mint", seconds: 0 }, base_uri: "ipfs://a/" },
    { stage: 1, rule: { kind: "after_mint", seconds: 86_400 }, base_uri: "ipfs://b/" },
    { stage: 2, rule: { kind: "owner" }, base_uri: "ipfs://c/" },
  ],
  nfts: [
    nft(0, 0, { stage: 1, rule: { kind: "after_mint", seconds: 86_400 }, due_at: 87_400, due: false }),
    nft(1, 0, { stage: 1, rule: { kind: "after_mint", seconds: 7_200 }, due_at: 8_200, due: false }),
    nft(2, 1, { stage: 2, rule: { kind: "owner" }, due_at: null, due: false }),
    nft(3, 2, null),
  ],
  due: 0,
};

describe("evolve logic", () => {
  test("spans and rules in words", () => {
    expect(spanText(86_400)).toBe("1 day");
    expect(spanText(7 * 86_400)).toBe("7 days");
    expect(spanText(90_000)).toBe("1 d 1 h");
    expect(spanText(7_200)).toBe("2 h");
    expect(spanText(2_700)).toBe("45 min");
    expect(spanText(20)).toBe("20 s");
    expect(ruleText({ kind: "after_mint", seconds: 0 })).toBe("at mint");
    expect(ruleText({ kind: "after_mint", seconds: 86_400 })).toBe("1 day after mint");
    expect(ruleText({ kind: "owner" })).toBe("when the owner triggers it");
    expect(ruleText({ kind: "creator" })).toBe("when the creator triggers it");
    expect(ruleText({ kind: "at", unix: 0 })).toMatch(/^on /);
  });

  test("each NFT's state: waiting, due, trigger, final", () => {
    const now = TIMELINE.now;
    expect(nftState(TIMELINE.nfts[0], now)).toEqual({ state: "waiting", text: "Stage 1 in 23 h" });
    expect(nftState(TIMELINE.nfts[2], now)).toEqual({ state: "trigger", text: "Stage 2 when the owner triggers it" });
    expect(nftState(TIMELINE.nfts[3], now)).toEqual({ state: "final", text: "Final stage reached" });
    const due = nft(5, 0, { stage: 1, rule: { kind: "after_mint", seconds: 1 }, due_at: 1_001, due: true });
    expect(nftState(due, now)).toEqual({ state: "due", text: "Stage 1 is due now" });
    const unknown = nft(6, 0, { stage: 1, rule: { kind: "after_mint", seconds: 60 }, due_at: null, due: false });
    expect(nftState(unknown, now)).toEqual({ state: "waiting", text: "Stage 1 1 min after mint" });
  });

  test("trigger buttons only for owner and creator stages", () => {
    expect(triggerFor(TIMELINE.nfts[0])).toBeNull();
    expect(triggerFor(TIMELINE.nfts[2])).toEqual({ label: "Owner: evolve to stage 2", toStage: 2 });
    expect(triggerFor(nft(7, 1, { stage: 2, rule: { kind: "creator" }, due_at: null, due: false }))?.label).toBe(
      "Creator: evolve to stage 2",
    );
    expect(triggerFor(TIMELINE.nfts[3])).toBeNull();
  });

  test("warp to the next unlock and the stage summary", () => {
    expect(nextDueAt(TIMELINE)).toBe(8_200);
    expect(warpFor(8_200 - TIMELINE.now)).toBe("60m");
    expect(warpFor(1)).toBe("1m");
    expect(nextDueAt({ ...TIMELINE, nfts: [TIMELINE.nfts[3]] })).toBeNull();
    expect(stageCounts(TIMELINE)).toEqual([2, 1, 1]);
  });
});

describe("stage images", () => {
  test("a row shows the image now and the next one, none after the last stage", () => {
    expect(rowImages(TIMELINE.nfts[0]).map((r) => [r.role, r.image.path])).toEqual([
      ["now", "build/stage-0/images/0.png"],
      ["next", "build/stage-1/images/0.png"],
    ]);
    expect(rowImages(TIMELINE.nfts[3]).map((r) => r.role)).toEqual(["now"]);
  });

  test("only images on this computer are fetched, each once, in row order", () => {
    const keys = imagesToLoad(TIMELINE, new Set()).map((w) => w.key);
    // Item 1's next image is not on this computer.
    expect(keys).toEqual(["0/0", "1/0", "0/1", "1/2", "2/2", "2/3"]);
    expect(imagesToLoad(TIMELINE, new Set(keys))).toEqual([]);
    expect(imagesToLoad(TIMELINE, new Set(["0/0", "1/0"]))[0]).toEqual({ stage: 0, index: 1, key: imageKey(0, 1) });
  });

  test("a missing image says where it would be", () => {
    expect(missingImageText({ stage: 2, path: "build/stage-2/images/7.png", exists: false })).toBe(
      "Stage 2 image not generated on this computer (build/stage-2/images/7.png)",
    );
  });

  test("stage_image gets the stage and the index", async () => {
    const calls = backend({ stage_image: () => "data:image/png;base64,AA==" });
    expect(await stageImage(2, 7)).toBe("data:image/png;base64,AA==");
    expect(calls).toEqual([{ cmd: "stage_image", args: { stage: 2, index: 7 } }]);
  });
});

describe("evolve commands (mocked IPC)", () => {
  test("timeline, crank, trigger and warp", async () => {
    const chain = { network: "sandbox", wallet: null };
    const calls = backend({
      evolve_timeline: () => TIMELINE,
      evolve_due: () => ({ collection: "Coll", now: 5, evolved: [] }),
      evolve_trigger: () => ({ collection: "Coll", now: 5, evolved: [{ index: 2 }] }),
      warp_clock: () => 99,
    });
    expect(await evolveTimeline(chain)).toEqual(TIMELINE);
    expect((await evolveDue(chain, () => {})).evolved).toEqual([]);
    expect((await evolveTrigger(chain, 2, 2)).evolved).toHaveLength(1);
    expect(await warpClock(chain, "1d")).toBe(99);
    expect(calls[2].args).toEqual({ chain, index: 2, toStage: 2 });
    expect(calls[3].args).toEqual({ chain, duration: "1d" });
    expect(calls[1].args).toHaveProperty("onEvent");
  });

  test("no collection yet: the error says to mint first", async () => {
    backend({ evolve_timeline: fail(commandError("invalidInput", "This project has no collection on sandbox yet.")) });
    await expect(evolveTimeline({ network: "sandbox", wallet: null })).rejects.toMatchObject({ kind: "invalidInput" });
  });
});

describe("verify", () => {
  const check = (name: string, status: "pass" | "fail" | "differs" | "skipped", detail = "") => ({ name, status, detail });
  const report = (ok: boolean, checks: ReturnType<typeof check>[], differs = false) => ({
    mint: "Mint0",
    ok,
    regenerated_differs: differs,
    index: 0,
    stage: 2,
    uri: null,
    collection: null,
    checks,
  });

  test("a verdict in one line", () => {
    expect(verifyText(report(true, [check("chain", "pass"), check("bytes", "pass")]))).toBe("Verified: 2 checks passed.");
    expect(verifyText(report(true, [check("chain", "pass"), check("regenerate", "differs")], true))).toBe(
      "Verified: 1 checks passed (regenerated bytes differ on this CPU).",
    );
    expect(verifyText(report(false, [check("chain", "pass"), check("metadata", "fail", "the CID does not match")]))).toBe(
      "Not verified: metadata: the CID does not match",
    );
    expect(verifyText(report(false, []))).toBe("Not verified.");
  });

  test("verify_nft gets the chain and the mint", async () => {
    const calls = backend({ verify_nft: () => report(true, []) });
    const chain = { network: "sandbox", wallet: null };
    expect((await verifyNft(chain, "Mint0")).ok).toBe(true);
    expect(calls[0].args).toEqual({ chain, mint: "Mint0" });
  });
});
