#!/usr/bin/env bash
# Chrysalis beside the HashLips art engine: items per second making a 1 000-item collection
# at 512², one process/thread and two, both tools in the same run, alternating.
#
#   scripts/bench-hashlips.sh            # everything: install, layers, build, time, table
#   ITEMS=200 ROUNDS=1 scripts/bench-hashlips.sh   # a shorter run
#
# What each side does (they are not the same job; the table says so):
# - HashLips (node + node-canvas): draws a random DNA per item (Math.random, unseeded), retries
#   on a duplicate, loads the 7 layer PNGs of that DNA, composites them with Cairo, encodes a
#   PNG (Cairo/libpng) and writes one JSON per item. No quotas, not reproducible. It has no
#   threads: "2 jobs" is two processes making half the items each in their own folders, so
#   uniqueness across the two halves is not checked (the best HashLips can do on two cores).
# - Chrysalis: `chrysalis publish --only generate --jobs N` on a fresh project: plans the
#   collection with exact trait quotas and unique combinations, renders every item with the
#   deterministic procedural engine (style STYLE, default growth), writes each PNG with its
#   recipe inside (bit-for-bit reproducible) and journals it in the project database.
#
# Environment:
#   HASHLIPS_SRC   a HashLips checkout to use instead of cloning it (it is copied, not changed)
#   ITEMS (1000), SIDE (512), ROUNDS (1: each round times all four cases once), STYLE (growth)
#   CHRYSALIS_BIN  a chrysalis binary to use instead of building `cargo build --release`
#   KEEP_WORK=1    keep the scratch folder with both tools' output
#
# HashLips' own lock pins canvas 2.8.0, which does not build on Node 20: the copy is installed
# without its lock files and takes canvas 2.11.x, built from source against the installed Node
# headers (npm_config_nodedir=/usr) with the cairo/pango development packages.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ITEMS="${ITEMS:-1000}"
SIDE="${SIDE:-512}"
ROUNDS="${ROUNDS:-1}"
STYLE="${STYLE:-growth}"
LAYERS=7
VARIANTS=5 # 5^7 = 78 125 combinations: HashLips' random draws rarely collide at 1 000 items
CACHE="${CHRYSALIS_CACHE:-$HOME/.cache/chrysalis}/hashlips"

[[ "$ITEMS" =~ ^[0-9]+$ ]] && [ "$ITEMS" -ge 40 ] && [ $((ITEMS % 40)) -eq 0 ] ||
  die "ITEMS must be a multiple of 40 (the Chrysalis collection's quotas divide it), got '$ITEMS'"
[[ "$SIDE" =~ ^[0-9]+$ ]] && [ "$SIDE" -ge 256 ] && [ "$SIDE" -le 2048 ] || die "SIDE must be 256..2048, got '$SIDE'"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive whole number, got '$ROUNDS'"
command -v node >/dev/null || die "node is not installed (apt-get install nodejs npm)"

# --- HashLips: source, install, layers --------------------------------------------------
apt_install build-essential pkg-config libcairo2-dev libpango1.0-dev libjpeg-dev libgif-dev librsvg2-dev

if [ -n "${HASHLIPS_SRC:-}" ]; then
  [ -f "$HASHLIPS_SRC/src/main.js" ] || die "HASHLIPS_SRC=$HASHLIPS_SRC has no src/main.js: not a HashLips art engine checkout"
  src="$HASHLIPS_SRC"
else
  src="$CACHE/src"
  if [ ! -f "$src/src/main.js" ]; then
    say "cloning the HashLips art engine into $src"
    rm -rf "$src"
    git clone --depth 1 https://github.com/HashLips/hashlips_art_engine "$src"
  fi
fi

# One installed copy per source version (main.js + package.json), outside the repo.
key="$(cat "$src/src/main.js" "$src/package.json" | sha256sum | cut -c1-12)"
engine="$CACHE/engine-$key"
if [ ! -f "$engine/.installed" ]; then
  say "installing HashLips ($src) into $engine: canvas 2.11 from source, a few minutes"
  rm -rf "$engine" && mkdir -p "$engine"
  (cd "$src" && tar --exclude=.git --exclude=node_modules --exclude=build --exclude=layers \
    --exclude=package-lock.json --exclude=yarn.lock -cf - .) | (cd "$engine" && tar -xf -)
  (cd "$engine" && npm pkg set dependencies.canvas='~2.11.2' &&
    npm_config_nodedir=/usr npm_config_build_from_source=true \
      npm install --no-audit --no-fund --loglevel=error)
  node -e "require('$engine/node_modules/canvas')" || die "canvas did not build in $engine"
  touch "$engine/.installed"
fi
layers="$engine/layers-${SIDE}-${LAYERS}x${VARIANTS}"
if [ ! -f "$layers/.complete" ]; then
  say "drawing $LAYERS layers x $VARIANTS variants at ${SIDE}² for HashLips"
  rm -rf "$layers"
  (cd "$engine" && node "$ROOT/scripts/bench/hashlips-layers.js" "$layers" "$SIDE" "$LAYERS" "$VARIANTS")
  touch "$layers/.complete"
fi

# A HashLips run folder: its code and modules linked from the installed copy, its own
# config (ITEMS editions, 7 layers, SIDE²) and its own build/ (HashLips works in its cwd).
hashlips_dir() {
  local dir="$1" editions="$2"
  mkdir -p "$dir/src"
  ln -s "$engine/index.js" "$engine/constants" "$engine/node_modules" "$dir/"
  [ -d "$engine/modules" ] && ln -s "$engine/modules" "$dir/"
  ln -s "$layers" "$dir/layers"
  ln -s "$engine/src/main.js" "$dir/src/main.js"
  node - "$dir/src/config.js" "$editions" "$SIDE" "$layers" <<'JS'
const fs = require("fs");
const [file, editions, side, layersDir] = process.argv.slice(2);
const order = fs.readdirSync(layersDir).filter((d) => !d.startsWith(".")).sort((a, b) => order_of(a) - order_of(b));
function order_of(name) {
  return ["Background", "Body", "Pattern", "Eyes", "Mouth", "Hat", "Accessory"].indexOf(name);
}
const config = {
  format: { width: Number(side), height: Number(side), smoothing: false },
  baseUri: "ipfs://bench",
  description: "HashLips beside Chrysalis",
  background: { generate: false, brightness: "80%", static: false, default: "#000000" },
  uniqueDnaTorrance: 10000,
  layerConfigurations: [{ growEditionSizeTo: Number(editions), layersOrder: order.map((name) => ({ name })) }],
  rarityDelimiter: "#",
  shuffleLayerConfigurations: false,
  debugLogs: false,
  extraMetadata: {},
  text: { only: false, color: "#ffffff", size: 20, xGap: 40, yGap: 40, align: "left", baseline: "top", weight: "regular", family: "Courier", spacer: " => " },
  namePrefix: "Bench",
  solanaMetadata: { symbol: "B", seller_fee_basis_points: 0, external_url: "", creators: [] },
  gif: { export: false, repeat: 0, quality: 100, delay: 500 },
  pixelFormat: { ratio: 2 / 128 },
  preview: { thumbPerRow: 5, thumbWidth: 50, imageRatio: 1, imageName: "preview.png" },
  preview_gif: { numberOfImages: 5, order: "ASC", repeat: 0, quality: 100, delay: 500, imageName: "preview.gif" },
};
const text =
  `const { NETWORK } = require(\`\${process.cwd()}/constants/network.js\`);\n` +
  `module.exports = Object.assign(${JSON.stringify(config, null, 2)}, { network: NETWORK.eth });\n`;
fs.writeFileSync(file, text);
JS
}

# --- Chrysalis: binary and a template project ---------------------------------------------
if [ -n "${CHRYSALIS_BIN:-}" ]; then
  bin="$CHRYSALIS_BIN"
else
  say "building chrysalis (release)"
  (cd "$ROOT" && cargo build --release -q -p chrysalis-cli)
  bin="$CARGO_TARGET_DIR/release/chrysalis"
fi
[ -x "$bin" ] || die "no chrysalis binary at $bin"

work="$(mktemp -d "${TMPDIR:-/tmp}/bench-hashlips.XXXXXX")"
if [ "${KEEP_WORK:-0}" = 1 ]; then say "scratch folder (kept): $work"; else trap 'rm -rf "$work"' EXIT; fi

# One trait per layer, 7 traits, quotas that divide ITEMS: 8*5*10*4*2*2*2 = 12 800 combinations.
chrysalis_spec() {
  local n="$1"
  printf 'name = "Bench"\nsymbol = "B"\nsize = %s\nseed = 7\nprice = "0"\n\n' "$n"
  printf '[[creators]]\naddress = "AQRPaiSTBjFWRB2p9goEdYQER8inVm9JJF13Ri2kjAtf"\nshare_bps = 10000\n\n'
  printf '[art]\nengine = "procedural"\nstyle = "%s"\nwidth = %s\nheight = %s\n\n' "$STYLE" "$SIDE" "$SIDE"
  trait() { # name count param
    local name="$1" count="$2" param="${3:-}" vals=() i
    for ((i = 0; i < count; i++)); do
      if [ -n "$param" ]; then
        vals+=("{ value = \"$name $i\", count = $((n / count)), params = { $param = $i } }")
      else
        vals+=("{ value = \"$name $i\", count = $((n / count)) }")
      fi
    done
    local IFS=,
    printf '[[traits]]\nname = "%s"\nvalues = [%s]\n\n' "$name" "${vals[*]}"
  }
  trait Palette 8 palette
  trait Mark 5
  trait Body 10
  trait Eyes 4
  trait Mouth 2
  trait Hat 2
  trait Accessory 2
  printf '[[stages]]\nname = "Seed"\nunlock = "mint"\n'
}
template="$work/chrysalis-template"
"$bin" init "$template" --name bench --no-collection >/dev/null
chrysalis_spec "$ITEMS" >"$template/collection.toml"
"$bin" check "$template" >/dev/null 2>&1 ||
  die "the generated collection.toml does not check: see $template/collection.toml"

# --- Timed runs ----------------------------------------------------------------------------
results="$work/results.tsv" # tool jobs round seconds cpu_seconds load_before
: >"$results"

timed() { # label jobs round command...: appends one row, prints it
  local label="$1" jobs="$2" round="$3"
  shift 3
  local load t0 t1 cpu
  load="$(cut -d' ' -f1 /proc/loadavg)"
  t0="$(date +%s.%N)"
  /usr/bin/time -f '%U %S' -o "$work/time.txt" "$@" >"$work/last.log" 2>&1 ||
    { tail -20 "$work/last.log" >&2; die "$label (jobs $jobs) failed"; }
  t1="$(date +%s.%N)"
  cpu="$(awk '{print $1 + $2}' "$work/time.txt")"
  local secs
  secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}')"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$jobs" "$round" "$secs" "$cpu" "$load" >>"$results"
  printf '  %-10s jobs %s round %s: %7.2f s wall, %7.2f s CPU, load before %s\n' "$label" "$jobs" "$round" "$secs" "$cpu" "$load" >&2
}

hashlips_run() { # jobs round: ITEMS editions split over `jobs` processes
  local jobs="$1" round="$2" k dirs=()
  for ((k = 0; k < jobs; k++)); do
    local d="$work/hl-$round-$jobs-$k"
    hashlips_dir "$d" $((ITEMS / jobs))
    dirs+=("$d")
  done
  # shellcheck disable=SC2016
  timed hashlips "$jobs" "$round" bash -c 'for d in "$@"; do (cd "$d" && node index.js >/dev/null) & done; wait' _ "${dirs[@]}"
  for d in "${dirs[@]}"; do
    local made
    made="$(find "$d/build/images" -name '*.png' | wc -l)"
    [ "$made" -eq $((ITEMS / jobs)) ] && [ -f "$d/build/json/_metadata.json" ] ||
      die "HashLips made $made of $((ITEMS / jobs)) images in $d (too few layer combinations?)"
  done
  rm -rf "${dirs[@]}"
}

chrysalis_run() { # jobs round
  local jobs="$1" round="$2"
  local d="$work/ch-$round-$jobs"
  cp -a "$template" "$d"
  timed chrysalis "$jobs" "$round" "$bin" publish --project "$d" --only generate --jobs "$jobs"
  local made
  made="$(find "$d" -path '*/images/*' -name '*.png' | wc -l)"
  [ "$made" -eq "$ITEMS" ] || die "Chrysalis made $made of $ITEMS images in $d"
  rm -rf "$d"
}

say "timing $ITEMS items at ${SIDE}², $ROUNDS round(s), both tools alternating ($(nproc) cores)"
for ((r = 1; r <= ROUNDS; r++)); do
  hashlips_run 1 "$r"
  chrysalis_run 1 "$r"
  hashlips_run 2 "$r"
  chrysalis_run 2 "$r"
done

# --- Table ---------------------------------------------------------------------------------
awk -F'\t' -v items="$ITEMS" -v side="$SIDE" -v style="$STYLE" -v date="$(date -u +%Y-%m-%d)" \
  -v cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" -v cores="$(nproc)" '
  { key = $1 " " $2; n[key]++; wall[key] += $4; cpus[key] += $5; loads = loads (loads == "" ? "" : ", ") $6
    if (!(key in lo) || $4 < lo[key]) lo[key] = $4
    if (!(key in hi) || $4 > hi[key]) hi[key] = $4 }
  END {
    printf "\n%s, %s, %d cores; %d items at %dx%d, one stage; Chrysalis style %s\n\n", date, cpu, cores, items, side, side, style
    printf "| tool | jobs | seconds (mean) | spread | items/s | items per CPU-second | vs HashLips 1 process |\n"
    printf "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    base = items / (wall["hashlips 1"] / n["hashlips 1"])
    split("hashlips 1,hashlips 2,chrysalis 1,chrysalis 2", order, ",")
    for (i = 1; i <= 4; i++) {
      k = order[i]; if (!(k in n)) continue
      split(k, p, " "); w = wall[k] / n[k]; ips = items / w
      printf "| %s | %s | %.1f | %.1f-%.1f | %.2f | %.2f | %.2fx |\n", p[1], p[2], w, lo[k], hi[k], ips, items / (cpus[k] / n[k]), ips / base
      rate[k] = ips
    }
    c1 = rate["chrysalis 1"]; c2 = rate["chrysalis 2"]; h1 = rate["hashlips 1"]; h2 = rate["hashlips 2"]
    printf "\nChrysalis / HashLips at equal jobs: 1 job %.2fx, 2 jobs %.2fx\n", c1 / h1, c2 / h2
    s = c2 / c1
    printf "Chrysalis 1 -> 2 jobs, wall clock: %.2fx (HashLips 1 -> 2 processes: %.2fx)\n", s, h2 / h1
    # Wall-clock scaling only shows on idle cores. CPU time per item does not depend on what
    # else the machine runs: if it stays flat from 1 to 2 jobs, the work is parallel.
    e = (items / (cpus["chrysalis 1"] / n["chrysalis 1"])) / (items / (cpus["chrysalis 2"] / n["chrysalis 2"]))
    printf "Chrysalis CPU time per item, 2 jobs vs 1: %.2fx (1.00 = no parallel overhead)\n", e
    printf "Estimate for 16 idle cores: 16 x %.2f items per CPU-second = %.0f items/s", items / (cpus["chrysalis 2"] / n["chrysalis 2"]), 16 * items / (cpus["chrysalis 2"] / n["chrysalis 2"])
    printf " (Amdahl on the wall-clock speed-up above would say %.1f, but only on an idle machine)\n", c1 / ((2 / s - 1 < 0 ? 0 : 2 / s - 1) + (1 - (2 / s - 1 < 0 ? 0 : 2 / s - 1)) / 16)
    printf "Load average during the runs (before each): %s\n", loads
  }' "$results"
