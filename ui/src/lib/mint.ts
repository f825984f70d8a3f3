/** The Mint screen's logic, and the chain choice (network + wallet) that Mint, Evolve and
 *  Royalties share: the networks on offer, SOL amounts in words, the cost estimate's lines,
 *  and the calls to src-tauri/src/{chain,pipeline}.rs. */

import { Channel, invoke } from "@tauri-apps/api/core";
import type {
  ChainRequest,
  CreatorStatus,
  MintEstimate,
  MintRecord,
  NetworkInfo,
  PipelineEvent,
  PublishReport,
  WalletInfo,
} from "./bindings";
import { toCommandError } from "./errors";

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (error) {
    throw toCommandError(error);
  }
}

export const LAMPORTS_PER_SOL = 1_000_000_000;

export type NetworkId = "sandbox" | "localnet" | "devnet" | "mainnet-beta" | "custom";

export interface NetworkChoice {
  id: NetworkId;
  label: string;
  about: string;
}

export const NETWORKS: readonly NetworkChoice[] = [
  {
    id: "sandbox",
    label: "Sandbox",
    about: "A private Solana inside this app: free, instant, no wallet or money needed. Start here.",
  },
  { id: "localnet", label: "Localnet", about: "A solana-test-validator running on this computer (127.0.0.1:8899)." },
  { id: "devnet", label: "Devnet", about: "Solana's public test network: free SOL from its faucet, visible in the explorer." },
  { id: "mainnet-beta", label: "Mainnet", about: "The real Solana network: minting costs real SOL." },
  { id: "custom", label: "Custom RPC", about: "Any Solana RPC node, by its https:// address." },
];

/** What the Mint, Evolve and Royalties screens work on. */
export interface ChainChoice {
  network: NetworkId;
  /** The RPC URL when `network` is `custom`. */
  customUrl: string;
  /** A Solana CLI keypair file; "" for the default (the project's own wallet in the Sandbox). */
  wallet: string;
}

export const DEFAULT_CHOICE: ChainChoice = { network: "sandbox", customUrl: "", wallet: "" };

const storageKey = (projectPath: string) => `chrysalis.chain:${projectPath}`;

/** The choice last made for this project (kept in the app's local storage: a network name
 *  and a file path, never a key). */
export function loadChoice(projectPath: string): ChainChoice {
  try {
    const raw = localStorage.getItem(storageKey(projectPath));
    if (!raw) return { ...DEFAULT_CHOICE };
    const v = JSON.parse(raw) as Partial<ChainChoice>;
    const network = NETWORKS.some((n) => n.id === v.network) ? (v.network as NetworkId) : "sandbox";
    return {
      network,
      customUrl: typeof v.customUrl === "string" ? v.customUrl : "",
      wallet: typeof v.wallet === "string" ? v.wallet : "",
    };
  } catch {
    return { ...DEFAULT_CHOICE };
  }
}

export function saveChoice(projectPath: string, choice: ChainChoice): void {
  localStorage.setItem(storageKey(projectPath), JSON.stringify(choice));
}

/** The command argument for a choice. */
export function chainRequest(c: ChainChoice): ChainRequest {
  const network = c.network === "custom" ? c.customUrl.trim() : c.network;
  return { network, wallet: c.wallet.trim() ? c.wallet.trim() : null };
}

/** The network's name as the studio shows it ("Sandbox", "Devnet"). */
export function networkLabel(c: ChainChoice): string {
  return NETWORKS.find((n) => n.id === c.network)?.label ?? chainRequest(c).network;
}

/** A problem with the choice the UI can see itself; `null` when it can be used. */
export function choiceProblem(c: ChainChoice): string | null {
  if (c.network === "custom" && !/^https?:\/\/\S+$/.test(c.customUrl.trim())) {
    return "Enter the RPC node's address, starting with https:// (or http:// for a local node).";
  }
  if (c.network !== "sandbox" && !c.wallet.trim()) {
    return null; // the Solana CLI's default keypair; the backend says if it is missing
  }
  return null;
}

/** "0.1 SOL", "0.00791 SOL", "12.5 SOL": up to 9 decimals, trailing zeros dropped. */
export function formatSol(lamports: number): string {
  const sol = lamports / LAMPORTS_PER_SOL;
  const digits = sol !== 0 && Math.abs(sol) < 0.001 ? 9 : Math.abs(sol) < 1 ? 5 : 4;
  const text = sol.toFixed(digits).replace(/\.?0+$/, "");
  return `${text} SOL`;
}

/** A SOL amount typed by a person, in lamports; an error message when it is not one. */
export function parseSol(text: string): { lamports: number } | { error: string } {
  const t = text.trim().replace(",", ".");
  if (!/^\d+(\.\d{1,9})?$/.test(t) && !/^\.\d{1,9}$/.test(t)) {
    return { error: "Enter an amount of SOL such as 0.5." };
  }
  const [whole, frac = ""] = t.split(".");
  const lamports = Number(whole || "0") * LAMPORTS_PER_SOL + Number(frac.padEnd(9, "0"));
  if (lamports <= 0) return { error: "Enter an amount above 0 SOL." };
  return { lamports };
}

export interface CostLine {
  label: string;
  value: string;
}

/** The estimate, as lines a first-time user can read. */
export function estimateLines(e: MintEstimate): CostLine[] {
  const lines: CostLine[] = [];
  const toMint = e.items - e.minted;
  if (e.collection > 0) lines.push({ label: "Create the collection and its stages", value: formatSol(e.collection) });
  if (toMint > 0) {
    lines.push({ label: `Each NFT (storage rent, fee${e.price > 0 ? ", price" : ""})`, value: formatSol(e.per_item) });
    lines.push({ label: `${toMint} NFT${toMint === 1 ? "" : "s"} to mint`, value: formatSol(e.per_item * toMint) });
  }
  if (e.minted > 0) lines.push({ label: "Already minted (not paid again)", value: `${e.minted} of ${e.items}` });
  lines.push({ label: e.exact ? "Total" : "Total, at most", value: formatSol(e.total) });
  return lines;
}

/** Whether the wallet can pay, and what to do if not. */
export function fundsNote(e: MintEstimate, wallet: WalletInfo | null): { ok: boolean; text: string } {
  if (!wallet) return { ok: false, text: "" };
  if (e.total === 0) return { ok: true, text: "Everything is minted already." };
  if (wallet.balance >= e.total) return { ok: true, text: `The wallet holds ${formatSol(wallet.balance)}: enough.` };
  const short = formatSol(e.total - wallet.balance);
  if (wallet.network.name === "sandbox") {
    return { ok: true, text: `The Sandbox tops the wallet up by itself (${short} more is needed).` };
  }
  if (wallet.network.allows_airdrop) {
    return { ok: false, text: `The wallet needs ${short} more: use Airdrop, then mint.` };
  }
  return { ok: false, text: `The wallet needs ${short} more: send SOL to ${wallet.address} first.` };
}

export function networkInfo(network: string): Promise<NetworkInfo> {
  return call("network_info", { network });
}

export function walletInfo(chain: ChainRequest): Promise<WalletInfo> {
  return call("wallet_info", { chain });
}

/** Creates a keypair file at `path`; resolves to its address. */
export function walletCreate(path: string): Promise<string> {
  return call("wallet_create", { path });
}

export function walletAirdrop(chain: ChainRequest, sol: number): Promise<WalletInfo> {
  return call("wallet_airdrop", { chain, sol });
}

export function mintEstimate(chain: ChainRequest): Promise<MintEstimate> {
  return call("mint_estimate", { chain });
}

export function mintRun(chain: ChainRequest, onEvent: (e: PipelineEvent) => void): Promise<PublishReport> {
  return call("mint_run", { chain, onEvent: new Channel<PipelineEvent>(onEvent) });
}

/** Who collection.toml pays, and whether each address is confirmed as the artist's own or a
 *  collaborator's. */
export function creatorsStatus(): Promise<CreatorStatus[]> {
  return call("creators_status");
}

export function confirmCreator(address: string): Promise<void> {
  return call("confirm_creator", { address });
}

/** A creator's line: its share, and how it was confirmed or that it was not. */
export function creatorLine(c: CreatorStatus): { share: string; state: string; confirmed: boolean } {
  const share = `${Number((c.share_bps / 100).toFixed(2))} %`;
  return c.confirmed
    ? { share, state: c.how ?? "confirmed", confirmed: true }
    : { share, state: "not confirmed: proceeds and royalties are paid to this address on chain", confirmed: false };
}

export function mintList(chain: ChainRequest): Promise<MintRecord[]> {
  return call("mint_list", { chain });
}

/** "7xKX…q9Fp": an address shortened for tables (the full one is in the title/copy). */
export function shortAddress(address: string): string {
  return address.length > 12 ? `${address.slice(0, 4)}…${address.slice(-4)}` : address;
}

/** Opens a Solana Explorer link in the system browser (the app window never navigates to
 *  web pages itself). Use as an `onclick` on the link, which keeps its `href` for copying. */
export async function openExplorer(url: string, event?: Event): Promise<void> {
  event?.preventDefault();
  await call<void>("open_explorer", { url });
}
