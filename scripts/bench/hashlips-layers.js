// Writes HashLips layer PNGs for scripts/bench-hashlips.sh: LAYERS folders under OUT, each with
// VARIANTS full-size PNGs named "<name>#<weight>.png" (HashLips reads the weight after '#').
// Layer 0 is an opaque background; the others are translucent shapes on a transparent sheet,
// so every layer costs HashLips a real decode and alpha composite.
// Usage: node hashlips-layers.js OUT SIDE LAYERS VARIANTS  (run inside the HashLips folder,
// whose node_modules has canvas).
"use strict";
const fs = require("fs");
const path = require("path");
const { createCanvas } = require(path.join(process.cwd(), "node_modules", "canvas"));

const [out, sideArg, layersArg, variantsArg] = process.argv.slice(2);
const side = Number(sideArg);
const layers = Number(layersArg);
const variants = Number(variantsArg);
if (!out || !(side > 0) || !(layers > 0) || !(variants > 0)) {
  console.error("usage: node hashlips-layers.js OUT SIDE LAYERS VARIANTS");
  process.exit(2);
}

// A small seeded generator so the layer set is the same on every run.
let state = 0x2545f491;
const rand = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 4294967296;
};
const colour = (alpha) =>
  `rgba(${Math.floor(rand() * 256)}, ${Math.floor(rand() * 256)}, ${Math.floor(rand() * 256)}, ${alpha})`;

const names = ["Background", "Body", "Pattern", "Eyes", "Mouth", "Hat", "Accessory"];
for (let l = 0; l < layers; l++) {
  const name = names[l] || `Layer ${l}`;
  const dir = path.join(out, name);
  fs.mkdirSync(dir, { recursive: true });
  for (let v = 0; v < variants; v++) {
    const canvas = createCanvas(side, side);
    const ctx = canvas.getContext("2d");
    if (l === 0) {
      const g = ctx.createLinearGradient(0, 0, side, side);
      g.addColorStop(0, colour(1));
      g.addColorStop(1, colour(1));
      ctx.fillStyle = g;
      ctx.fillRect(0, 0, side, side);
    } else {
      // A cluster of soft-edged shapes, different per layer and variant.
      for (let k = 0; k < 6 + l; k++) {
        const x = side * (0.15 + 0.7 * rand());
        const y = side * (0.15 + 0.7 * rand());
        const r = side * (0.03 + 0.12 * rand());
        const g = ctx.createRadialGradient(x, y, r * 0.2, x, y, r);
        g.addColorStop(0, colour(0.95));
        g.addColorStop(1, colour(0));
        ctx.fillStyle = g;
        ctx.beginPath();
        if (k % 2 === 0) {
          ctx.arc(x, y, r, 0, Math.PI * 2);
        } else {
          ctx.rect(x - r, y - r * 0.6, r * 2, r * 1.2);
        }
        ctx.fill();
      }
    }
    const weight = 10 + v; // uneven but every variant possible
    fs.writeFileSync(path.join(dir, `${name} ${v}#${weight}.png`), canvas.toBuffer("image/png"));
  }
}
console.log(`${layers} layers x ${variants} variants at ${side}x${side} in ${out}`);
