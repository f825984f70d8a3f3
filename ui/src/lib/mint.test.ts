import type { Channel } from "@tauri-apps/api/core";
import { describe, expect, test } from "vitest";
import type { MintEstimate, PipelineEvent, WalletInfo } from "./bindings";
import {
  chainRequest,
  choiceProblem,
  DEFAULT_CHOICE,
  estimateLines,
  formatSol,
  fundsNote,
  loadChoice,
  mintEstimate,
  mintRun,
  networkLabel,
  openExplorer,
  parseSol,
  saveChoice,
  shortAddress,
  walletAirdrop,
  walletCreate,
  walletInfo,
} from "./mint";
import { backend, fail } from "../test/backend";
import { channelSender, commandError } from "../test/fixtures";

const SANDBOX_NET = { name: "sandbox", rpc_url: null, allows_airdrop: true, is_mainnet: false, has_explorer: false };
const wallet = (balance: number, network = SANDBOX_NET): WalletInfo => ({
  address: "Art1st",
  path: null,
  balance,
  network,
  explorer_url: null,
  warning: null,
});
const ESTIMATE: MintEstimate = {
  network: "sandbox",
  items: 12,
  minted: 0,
  price: 100_000_000,
  collection: 50_000_000,
  per_item: 112_000_000,
  total: 1_394_000_000,
  exact: false,
  program: { kind: "builtin", authority: null, note: "The sandbox runs the program built into this app." },
};

describe("chain choice", () => {
  test("is remembered per project, and junk falls back to the Sandbox", () => {
    expect(loadChoice("/p")).toEqual(DEFAULT_CHOICE);
    saveChoice("/p", { network: "devnet", customUrl: "", wallet: "/k.json" });
    expect(loadChoice("/p")).toEqual({ network: "devnet", customUrl: "", wallet: "/k.json" });
    expect(loadChoice("/other")).toEqual(DEFAULT_CHOICE);
    localStorage.setItem("chrysalis.chain:/bad", "{not json");
    expect(loadChoice("/bad")).toEqual(DEFAULT_CHOICE);
    localStorage.setItem("chrysalis.chain:/odd", JSON.stringify({ network: "moon", wallet: 3 }));
    expect(loadChoice("/odd")).toEqual(DEFAULT_CHOICE);
  });

  test("becomes the command's argument", () => {
    expect(chainRequest(DEFAULT_CHOICE)).toEqual({ network: "sandbox", wallet: null });
    expect(chainRequest({ network: "custom", customUrl: " https://rpc.x ", wallet: " /k.json " })).toEqual({
      network: "https://rpc.x",
      wallet: "/k.json",
    });
    expect(choiceProblem({ network: "custom", customUrl: "rpc.x", wallet: "" })).toContain("https://");
    expect(choiceProblem({ network: "custom", customUrl: "http://127.0.0.1:8899", wallet: "" })).toBeNull();
    expect(choiceProblem({ network: "devnet", customUrl: "", wallet: "" })).toBeNull();
  });

  test("is named as the studio names it", () => {
    expect(networkLabel(DEFAULT_CHOICE)).toBe("Sandbox");
    expect(networkLabel({ network: "mainnet-beta", customUrl: "", wallet: "" })).toBe("Mainnet");
  });
});

describe("SOL amounts", () => {
  test("formatting", () => {
    expect(formatSol(100_000_000)).toBe("0.1 SOL");
    expect(formatSol(7_910_000)).toBe("0.00791 SOL");
    expect(formatSol(12_500_000_000)).toBe("12.5 SOL");
    expect(formatSol(5_000)).toBe("0.000005 SOL");
    expect(formatSol(0)).toBe("0 SOL");
  });

  test("parsing what a person types", () => {
    expect(parseSol("0.5")).toEqual({ lamports: 500_000_000 });
    expect(parseSol(" 2 ")).toEqual({ lamports: 2_000_000_000 });
    expect(parseSol("0,25")).toEqual({ lamports: 250_000_000 });
    expect(parseSol(".000000001")).toEqual({ lamports: 1 });
    expect(parseSol("0")).toEqual({ error: "Enter an amount above 0 SOL." });
    expect(parseSol("abc")).toHaveProperty("error");
    expect(parseSol("1.0000000001")).toHaveProperty("error");
  });

  test("short addresses", () => {
    expect(shortAddress("AQRPaiSTBjFWRB2p9goEdYQER8inVm9JJF13Ri2kjAtf")).toBe("AQRP…jAtf");
    expect(shortAddress("short")).toBe("short");
  });
});

describe("cost estimate", () => {
  test("an upper bound before the collection exists", () => {
    const lines = estimateLines(ESTIMATE);
    expect(lines.map((l) => l.label)).toEqual([
      "Create the collection and its stages",
      "Each NFT (storage rent, fee, price)",
      "12 NFTs to mint",
      "Total, at most",
    ]);
    expect(lines[3].value).toBe("1.394 SOL");
  });

  test("exact once it does, and nothing for what is minted", () => {
    const lines = estimateLines({ ...ESTIMATE, collection: 0, minted: 11, per_item: 7_915_000, total: 7_915_000, exact: true, price: 0 });
    expect(lines.map((l) => l.label)).toEqual(["Each NFT (storage rent, fee)", "1 NFT to mint", "Already minted (not paid again)", "Total"]);
    expect(lines[2].value).toBe("11 of 12");
  });

  test("whether the wallet can pay, and what to do if not", () => {
    expect(fundsNote(ESTIMATE, null)).toEqual({ ok: false, text: "" });
    expect(fundsNote(ESTIMATE, wallet(2_000_000_000)).ok).toBe(true);
    expect(fundsNote(ESTIMATE, wallet(0)).text).toContain("tops the wallet up");
    const devnet = { ...SANDBOX_NET, name: "devnet", has_explorer: true };
    expect(fundsNote(ESTIMATE, wallet(0, devnet))).toMatchObject({ ok: false });
    expect(fundsNote(ESTIMATE, wallet(0, devnet)).text).toContain("Airdrop");
    const main = { ...SANDBOX_NET, name: "mainnet-beta", allows_airdrop: false, is_mainnet: true };
    expect(fundsNote(ESTIMATE, wallet(394_000_000, main)).text).toBe("The wallet needs 1 SOL more: send SOL to Art1st first.");
    expect(fundsNote({ ...ESTIMATE, total: 0 }, wallet(0)).text).toContain("minted already");
  });
});

describe("mint commands (mocked IPC)", () => {
  test("each command gets the chain and its arguments", async () => {
    const chain = chainRequest(DEFAULT_CHOICE);
    const seen: PipelineEvent[] = [];
    const calls = backend({
      wallet_info: () => wallet(5),
      wallet_create: () => "NewAddr",
      wallet_airdrop: () => wallet(1_000_000_005),
      mint_estimate: () => ESTIMATE,
      mint_run: (args) => {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const send = channelSender(args.onEvent as Channel<any>) as unknown as (e: PipelineEvent) => void;
        send({ phase: "mint", step: 1, total: 12, message: "#0", index: 0, stage: 0, bytes: null });
        return { minted_now: 12 };
      },
    });
    expect((await walletInfo(chain)).balance).toBe(5);
    expect(await walletCreate("/k.json")).toBe("NewAddr");
    expect((await walletAirdrop(chain, 1)).balance).toBe(1_000_000_005);
    expect(await mintEstimate(chain)).toEqual(ESTIMATE);
    expect(await mintRun(chain, (e) => seen.push(e))).toEqual({ minted_now: 12 });
    await expect.poll(() => seen.length).toBe(1);
    expect(calls.map((c) => c.cmd)).toEqual(["wallet_info", "wallet_create", "wallet_airdrop", "mint_estimate", "mint_run"]);
    expect(calls[1].args).toEqual({ path: "/k.json" });
    expect(calls[2].args).toEqual({ chain, sol: 1 });
  });

  test("explorer links open in the system browser, not in the window", async () => {
    const calls = backend({ open_explorer: () => null });
    const event = new MouseEvent("click", { cancelable: true });
    await openExplorer("https://explorer.solana.com/address/Abc?cluster=devnet", event);
    expect(event.defaultPrevented).toBe(true);
    expect(calls).toEqual([
      { cmd: "open_explorer", args: { url: "https://explorer.solana.com/address/Abc?cluster=devnet" } },
    ]);
  });

  test("a refused airdrop keeps its message", async () => {
    backend({ wallet_airdrop: fail(commandError("invalidInput", "mainnet-beta gives no free SOL.")) });
    await expect(walletAirdrop({ network: "mainnet-beta", wallet: null }, 1)).rejects.toMatchObject({
      kind: "invalidInput",
      message: "mainnet-beta gives no free SOL.",
    });
  });
});
