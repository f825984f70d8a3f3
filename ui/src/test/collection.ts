import type { CollectionSpec } from "../lib/bindings";

/** A parsed collection spec as the Collection screen's commands return it. */
export const SPEC: CollectionSpec = {
  name: "Demo",
  symbol: "DEMO",
  description: "",
  size: 12,
  seed: 7,
  creators: [
    { address: "AQRPaiSTBjFWRB2p9goEdYQER8inVm9JJF13Ri2kjAtf", share_bps: 7000 },
    { address: "CzhSFmZR5PEXyhaHwLTcMaykxmd8xMksYckwqceszR8x", share_bps: 2500 },
  ],
  royalty_bps: 500,
  price: "0.1",
  art: { engine: "procedural", style: "growth", width: 512, height: 512, params: {} },
  traits: [
    {
      name: "Palette",
      values: [
        { value: "Kyoto", count: 6 },
        { value: "Ember", percent: 25 },
        { value: "Aurora" },
      ],
    },
  ],
  rules: [],
  stages: [
    { name: "Seedling", unlock: "mint", growth: 0 },
    { name: "Grown", unlock: { after_mint: "1d" }, growth: 2 },
  ],
};
