import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, test, vi } from "vitest";
import type { MintEstimate, MintRecord, WalletInfo } from "../lib/bindings";
import { loadChoice } from "../lib/mint";
import { backend, fail } from "../test/backend";
import { commandError, MOTHS } from "../test/fixtures";
import Mint from "./Mint.svelte";

const NET = { name: "sandbox", rpc_url: null, allows_airdrop: true, is_mainnet: false, has_explorer: false };
const WALLET: WalletInfo = { address: "Art1st", path: null, balance: 5_000_000_000, network: NET, explorer_url: null, warning: null };
const EST: MintEstimate = { network: "sandbox", items: 2, minted: 0, price: 0, collection: 50_000_000, per_item: 12_000_000, total: 74_000_000, exact: false, program: { kind: "builtin", authority: null, note: "The sandbox runs the program built into this app: nothing can upgrade it." } };
const minted = (i: number): MintRecord => ({ index: i, mint: `Mint${i}xxxxxxxxxx`, owner: "Art1st", status: "minted", signature: "s", explorer_url: null });

describe("Mint", () => {
  test("shows the wallet and the cost, mints, and lists the NFTs", async () => {
    let list: MintRecord[] = [];
    const calls = backend({
      wallet_info: () => WALLET,
      mint_estimate: () => EST,
      mint_list: () => list,
      mint_run: () => {
        list = [minted(0), minted(1)];
        return { network: "sandbox", minted_now: 2, mints: list, lamports_spent: 70_000_000 };
      },
    });
    const user = userEvent.setup();
    render(Mint, { project: MOTHS });
    expect(await screen.findByTestId("wallet-balance")).toHaveTextContent("5 SOL");
    expect(await screen.findByTestId("estimate")).toHaveTextContent("Total, at most0.074 SOL");
    await user.click(screen.getByTestId("mint-run"));
    expect(await screen.findByTestId("mint-done")).toHaveTextContent("2 minted now, 2 in all on sandbox");
    await vi.waitFor(() => expect(screen.getAllByTestId("mint-row")).toHaveLength(2));
    expect(calls.find((c) => c.cmd === "mint_run")!.args.chain).toEqual({ network: "sandbox", wallet: null });
  });

  test("who can upgrade the program is said next to the cost, as a warning when someone can", async () => {
    const note = "Whoever holds the program's upgrade key (Upgr4de) can deploy new code, and new code could rewrite every NFT's metadata.";
    const upgradeable = { ...EST, program: { kind: "upgradeable", authority: "Upgr4de", note } };
    backend({ wallet_info: () => WALLET, mint_estimate: () => upgradeable, mint_list: () => [] });
    render(Mint, { project: MOTHS });
    const line = await screen.findByTestId("program-control");
    expect(line).toHaveTextContent("Upgr4de");
    expect(line).toHaveClass("warn");
  });

  test("a keypair file readable by others is warned about beside the wallet", async () => {
    const warning = "keypair file /home/me/id.json can be read by other users (mode 0644): run `chmod 600 /home/me/id.json`";
    backend({ wallet_info: () => ({ ...WALLET, path: "/home/me/id.json", warning }), mint_estimate: () => EST, mint_list: () => [] });
    render(Mint, { project: MOTHS });
    expect(await screen.findByTestId("wallet-warning")).toHaveTextContent("mode 0644");
    expect(screen.getByTestId("wallet-balance")).toHaveTextContent("5 SOL");
  });

  test("an unconfirmed creator is pointed out and confirmed with one click", async () => {
    let confirmed = false;
    const calls = backend({
      wallet_info: () => WALLET,
      mint_estimate: () => EST,
      mint_list: () => [],
      creators_status: () => [
        { address: "Art1st", share_bps: 7000, confirmed: true, how: "own wallet (Sandbox)" },
        { address: "Str4nger", share_bps: 3000, confirmed, how: confirmed ? "confirmed" : undefined },
      ],
      confirm_creator: () => {
        confirmed = true;
        return null;
      },
    });
    const user = userEvent.setup();
    render(Mint, { project: MOTHS });
    expect(await screen.findByTestId("creators-warning")).toHaveTextContent("One creator address is not confirmed");
    const rows = screen.getAllByTestId("creator");
    expect(rows[0]).toHaveTextContent("70 %");
    expect(rows[1]).toHaveTextContent("not confirmed");
    await user.click(screen.getByTestId("confirm-creator"));
    await vi.waitFor(() => expect(screen.queryByTestId("creators-warning")).toBeNull());
    expect(calls.find((c) => c.cmd === "confirm_creator")!.args).toEqual({ address: "Str4nger" });
  });

  test("switching network re-reads and is remembered; mainnet asks before spending", async () => {
    const calls = backend({
      wallet_info: () => WALLET,
      mint_estimate: () => EST,
      mint_list: () => [],
    });
    const user = userEvent.setup();
    render(Mint, { project: MOTHS });
    await screen.findByTestId("wallet-balance");
    await user.click(screen.getByTestId("network-mainnet-beta"));
    await vi.waitFor(() =>
      expect(calls.some((c) => c.cmd === "mint_estimate" && (c.args.chain as { network: string }).network === "mainnet-beta")).toBe(true),
    );
    expect(loadChoice(MOTHS.root).network).toBe("mainnet-beta");
    expect(screen.getByTestId("mint-run")).toBeDisabled();
    await user.click(screen.getByLabelText(/spends real SOL/));
    expect(screen.getByTestId("mint-run")).toBeEnabled();
  });

  test("Browse… opens a keypair file as the wallet, or creates one where the dialog says", async () => {
    let picked: string | null = null;
    const calls = backend({
      wallet_info: () => WALLET,
      mint_estimate: () => EST,
      mint_list: () => [],
      "plugin:dialog|open": () => picked,
      "plugin:dialog|save": () => "/keys/new.json",
      wallet_create: () => "N3wAddr",
    });
    const user = userEvent.setup();
    render(Mint, { project: MOTHS });
    await screen.findByTestId("wallet-balance");

    // Cancelled: nothing changes and nothing is re-read.
    const reads = calls.filter((c) => c.cmd === "wallet_info").length;
    await user.click(screen.getByTestId("wallet-browse"));
    await vi.waitFor(() => expect(calls.some((c) => c.cmd === "plugin:dialog|open")).toBe(true));
    expect(screen.getByTestId("wallet-path")).toHaveValue("");
    expect(calls.filter((c) => c.cmd === "wallet_info")).toHaveLength(reads);

    picked = "/home/ada/.config/solana/id.json";
    await user.click(screen.getByTestId("wallet-browse"));
    await vi.waitFor(() => expect(screen.getByTestId("wallet-path")).toHaveValue("/home/ada/.config/solana/id.json"));
    const opened = calls.find((c) => c.cmd === "plugin:dialog|open")!.args.options;
    expect(opened).toMatchObject({ filters: [{ name: "Solana keypair", extensions: ["json"] }] });
    await vi.waitFor(() =>
      expect(calls.filter((c) => c.cmd === "wallet_info").at(-1)!.args.chain).toEqual({
        network: "sandbox",
        wallet: "/home/ada/.config/solana/id.json",
      }),
    );

    await user.click(screen.getByText("Create a new wallet"));
    await user.click(screen.getByTestId("new-wallet-browse"));
    expect(await screen.findByText(/Created N3wAddr/)).toBeInTheDocument();
    expect(screen.getByTestId("new-wallet-path")).toHaveValue("/keys/new.json");
    expect(calls.find((c) => c.cmd === "wallet_create")!.args).toEqual({ path: "/keys/new.json" });
    expect(screen.getByTestId("wallet-path")).toHaveValue("/keys/new.json");
  });

  test("a wallet that cannot be read says why, where it happened", async () => {
    backend({
      wallet_info: fail(commandError("invalidInput", "Keypair file /nope.json does not exist.")),
      mint_estimate: () => EST,
      mint_list: () => [],
    });
    render(Mint, { project: MOTHS });
    expect(await screen.findByTestId("error-message")).toHaveTextContent("/nope.json does not exist");
  });
});
