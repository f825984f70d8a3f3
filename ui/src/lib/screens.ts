/** The screen registry: every step of the artist's path, in order, with what it is for.
 *
 *  Adding a screen takes no edit here: create `ui/src/screens/<Title>.svelte` (for
 *  example `Collection.svelte` for id `collection`) taking `ScreenProps`, and the sidebar,
 *  the Ctrl+N shortcut and the routing pick it up. Until its file exists a screen shows a
 *  "coming next" page that says what it will do. */

import type { Component } from "svelte";
import type { ProjectInfo } from "./bindings";
import { SCREEN_IDS, type ScreenId } from "./studio.svelte";

/** What the shell passes every screen. Navigation and hand-offs go through `studio`
 *  (studio.svelte.ts). */
export interface ScreenProps {
  project: ProjectInfo;
}

export interface ScreenInfo {
  id: ScreenId;
  /** Sidebar and heading. */
  title: string;
  /** One line under the title in the sidebar. */
  tagline: string;
  /** What the screen does, for someone who has never used Solana. Shown on the overview and
   *  on the placeholder until the screen is built. */
  about: string;
  /** Ctrl+<key> shows it. */
  key: number;
  /** The screen's component; `null` until `screens/<File>.svelte` exists. */
  component: Component<ScreenProps> | null;
}

const INFO: Record<ScreenId, Omit<ScreenInfo, "id" | "key" | "component"> & { file: string }> = {
  project: {
    file: "Overview",
    title: "Project",
    tagline: "Overview and health",
    about: "Where this project lives, the path from a first image to royalties, and a health check of its files.",
  },
  create: {
    file: "Create",
    title: "Create",
    tagline: "Generate images",
    about:
      "Make images on this computer from a prompt and a seed, with the built-in procedural styles or a Stable Diffusion model folder. Every image keeps the recipe that can make it again.",
  },
  gallery: {
    file: "Gallery",
    title: "Gallery",
    tagline: "Collect and check",
    about:
      "Every image of the project with its recipe: reuse its settings, regenerate it to prove it is reproducible, export it.",
  },
  collection: {
    file: "Collection",
    title: "Collection",
    tagline: "Traits, rarity, stages",
    about:
      "Turn a style into a collection: traits with exact rarity quotas and rules, one unique item each, and the evolution stages every item will grow through.",
  },
  publish: {
    file: "Publish",
    title: "Publish",
    tagline: "Images and metadata online",
    about:
      "Put the images and their NFT metadata on IPFS or Arweave. Addresses are computed on this computer first and every uploaded byte is verified; an interrupted upload resumes.",
  },
  mint: {
    file: "Mint",
    title: "Mint",
    tagline: "Create the NFTs",
    about:
      "Create the NFTs on Solana (start in the built-in sandbox: no wallet or money needed), with creators' shares of sales and royalties written into the program.",
  },
  evolve: {
    file: "Evolve",
    title: "Evolve",
    tagline: "Grow the art over time",
    about:
      "Move NFTs to their next stage, on a schedule or a trigger, to art committed in advance so collectors can verify it was always the plan.",
  },
  royalties: {
    file: "Royalties",
    title: "Royalties",
    tagline: "Shares and payouts",
    about: "See what mints and royalties earned and pay every creator their share.",
  },
};

type ScreenModule = { default: Component<ScreenProps> };

/** Every screen file that exists, by file name. */
const FILES = import.meta.glob<ScreenModule>("../screens/*.svelte", { eager: true });

function componentFor(file: string): Component<ScreenProps> | null {
  return FILES[`../screens/${file}.svelte`]?.default ?? null;
}

export const SCREENS: readonly ScreenInfo[] = SCREEN_IDS.map((id, key) => {
  const { file, ...info } = INFO[id];
  return { id, key, ...info, component: componentFor(file) };
});

export function screenInfo(id: ScreenId): ScreenInfo {
  return SCREENS.find((s) => s.id === id)!;
}

/** The screen Ctrl+`key` shows, if any. */
export function screenForKey(key: number): ScreenInfo | null {
  return SCREENS.find((s) => s.key === key) ?? null;
}
