#!/usr/bin/env bash
# The one prepared GPU check, for a session that is lent a device machine (an H100/H200 with
# the CUDA 13 driver, PyTorch and nvcc, but no Rust and no network; see the `device` tool's
# notes). Two halves:
#
#   scripts/gpu-check.sh --prepare   # HERE, after scripts/setup-cuda.sh --build: packs .gpu/
#                                    # (the stripped CUDA `chrysalis`, xz; the diffusers wheel)
#   scripts/gpu-check.sh             # THERE: run with carry [".gpu"], timeout_s ~540; writes
#                                    # $OUT/gpu-check.md (the figures) and $OUT/gpu-check.log
#
# What the device half does, in about 5 minutes on an H100:
# 1. `chrysalis devices`: the GPU and its free VRAM as the app shows them.
# 2. Equal to diffusers on the GPU: the committed diffusers fixtures (SD1.5- and SD2-style,
#    crates/art/tests/fixtures/diffusers) from diffusers' own starting latents
#    (`--init-latents`) with `--device cuda:0`, every pixel compared with diffusers' stored
#    DDIM image (the CPU passes within 1 level; the GPU's figure is reported, not assumed).
# 3. Same class, same bytes: a seeded run on cuda:0 is regenerated there with
#    `regenerate --check` (identical), and the same recipe on the CPU is refused by name.
# 4. Speed: SD1.5-architecture random weights (scripts/diffusers-reference/make_bench_model.py,
#    built there with the machine's torch), 512², 25 steps, CFG 7.5, DDIM, fp16: Chrysalis
#    (`--dtype f16 --device cuda:0`) and diffusers (`--dtype f16 --device cuda`), each
#    twice (the first warms caches and the driver's PTX JIT), whole image timed from process
#    start, so model loading counts on both sides.
#
# Why packed this way: the machine has no cargo, and the working tree that travels is at most
# 64 MiB, so the CUDA binary goes stripped and xz-compressed. It was built against CUDA 13.0's
# PyPI wheels (scripts/setup-cuda.sh), and finds libcublas.so.13 / libcurand.so.10 in the
# machine's own torch environment.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PACK="$ROOT/.gpu"

if [ "${1:-}" = --prepare ]; then
  source "$ROOT/scripts/lib.sh"
  bin="${CUDA_TARGET_DIR:-${CHRYSALIS_CACHE:-$HOME/.cache/chrysalis}/target-cuda}/release/chrysalis"
  [ -x "$bin" ] || die "no CUDA build at $bin: run scripts/setup-cuda.sh --build first"
  "$bin" devices --json 2>/dev/null | grep -q '"cuda_in_build":true' ||
    readelf -d "$bin" | grep -q 'libcublas' || die "$bin is not a CUDA build (no libcublas in its needs)"
  mkdir -p "$PACK"
  grep -qx '/.gpu/' "$ROOT/.git/info/exclude" 2>/dev/null || echo '/.gpu/' >>"$ROOT/.git/info/exclude"
  rm -f "$PACK"/chrysalis*
  strip -o "$PACK/chrysalis" "$bin"
  xz -9 -T2 "$PACK/chrysalis"
  pin="$(printf '%s\n' "${DIFFUSERS_PINS[@]}" | grep '^diffusers==')"
  rm -f "$PACK"/diffusers-*.whl
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$PACK" "$pin"
  du -sh "$PACK"
  say "packed: run on the device with carry [\".gpu\"] and command 'scripts/gpu-check.sh'"
  exit 0
fi

# DEVICE, TORCH_DEVICE, CHRYSALIS_BIN and SPEED_{ARCH,SIZE,STEPS} exist for a dry run of this
# half on a CPU machine (DEVICE=cpu TORCH_DEVICE=cpu SPEED_ARCH=tiny SPEED_SIZE=64
# SPEED_STEPS=2 CHRYSALIS_BIN=<a CPU build>, a Python with torch and diffusers first on PATH).
DEV="${DEVICE:-cuda:0}"
TORCH_DEV="${TORCH_DEVICE:-cuda}"
OUT="${OUT:-/tmp/gpu-check}"
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu-check.log") 2>&1
report="$OUT/gpu-check.md"
fail=0
note() { echo "$*" | tee -a "$report"; }
: >"$report"
export PYTHONUNBUFFERED=1

if [ -n "${CHRYSALIS_BIN:-}" ]; then
  C="$CHRYSALIS_BIN" # the dry run's binary
else
  [ -f "$PACK/chrysalis.xz" ] || { echo "no .gpu/chrysalis.xz: run --prepare here and carry .gpu"; exit 2; }
  xz -dc "$PACK/chrysalis.xz" >/tmp/chrysalis && chmod +x /tmp/chrysalis
  C=/tmp/chrysalis
fi
# cuBLAS 13 and cuRAND 10 from the machine's PyTorch environment (nvidia-cublas, nvidia-curand).
libs=""
[ "$DEV" = cpu ] || for lib in libcublas.so.13 libcublasLt.so.13 libcurand.so.10; do
  found="$(find / -xdev -name "$lib" -not -path '*/proc/*' 2>/dev/null | head -1)"
  [ -n "$found" ] || { echo "missing $lib on this machine"; exit 2; }
  libs="$libs:$(dirname "$found")"
done
export LD_LIBRARY_PATH="${libs#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
python3 -c 'import diffusers' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$PACK"/diffusers-*.whl
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}

note "# GPU check, $(date -u +%F)"
note ""
note "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
note ""
note "## 1. Devices"
note '```'
note "$($C devices)"
note '```'

note "## 2. Equal to diffusers on $DEV (from diffusers' latents, DDIM, vs its stored image)"
for m in sd15 sd2; do
  fx="$ROOT/crates/art/tests/fixtures/diffusers/$m"
  python3 - "$fx" /tmp/$m-latents.safetensors <<'PY' >/tmp/$m-args
import json, sys
from safetensors.torch import load_file, save_file
ref = load_file(f"{sys.argv[1]}/reference.safetensors")
save_file({"latents": ref["init_noise"].contiguous()}, sys.argv[2])
meta = json.load(open(f"{sys.argv[1]}/reference.json"))
print(json.dumps(meta))
PY
  meta="$(cat /tmp/$m-args)"
  j() { python3 -c "import json,sys; print(json.loads(sys.argv[1])$2)" "$meta"; }
  size="$(python3 - "$fx" <<'PY'
import sys
from safetensors.torch import load_file
print(load_file(f"{sys.argv[1]}/reference.safetensors")["ddim_image"].shape[-1])
PY
)"
  for dev in cpu "$DEV"; do
    $C generate --model "$fx" --init-latents /tmp/$m-latents.safetensors --device "$dev" \
      --prompt "$(j "$meta" "['prompt']")" --negative "$(j "$meta" "['negative_prompt']")" \
      --guidance "$(j "$meta" "['guidance']")" --steps "$(j "$meta" "['runs']['ddim']['steps']")" \
      --scheduler ddim --seed 1 --size "$size" --out "/tmp/$m-${dev%%:*}.png" >/dev/null
  done
  python3 - "$fx" /tmp/$m-cpu.png "/tmp/$m-${DEV%%:*}.png" "$m" "$DEV" <<'PY' | tee -a "$report"
import sys
import numpy as np
from PIL import Image
from safetensors.torch import load_file
ref = load_file(f"{sys.argv[1]}/reference.safetensors")["ddim_image"][0].float().numpy()
want = np.round(np.clip(ref / 2 + 0.5, 0, 1) * 255).astype(np.int16).transpose(1, 2, 0)
cpu = np.asarray(Image.open(sys.argv[2]).convert("RGB")).astype(np.int16)
gpu = np.asarray(Image.open(sys.argv[3]).convert("RGB")).astype(np.int16)
for name, img in (("cpu", cpu), (sys.argv[5], gpu)):
    d = np.abs(img - want)
    print(f"- {sys.argv[4]} on {name}: max |Δ| {d.max()} levels, {100 * (d > 0).mean():.2f} % of values differ from diffusers'")
print(f"- {sys.argv[4]} cpu vs {sys.argv[5]}: max |Δ| {np.abs(cpu - gpu).max()} levels")
PY
done

note "## 3. Same class, same bytes"
$C generate --model "$ROOT/crates/art/tests/fixtures/diffusers/sd15" --prompt "a moth" --seed 7 \
  --size 128 --steps 4 --device "$DEV" --out /tmp/seeded.png >/dev/null
if $C regenerate /tmp/seeded.png --check --model "$ROOT/crates/art/tests/fixtures/diffusers/sd15" --device "$DEV" >/dev/null; then
  note "- a recipe made on $DEV regenerated there: identical"
else
  note "- a recipe made on $DEV regenerated there: DIFFERENT"; fail=1
fi
if [ "$DEV" = cpu ]; then :; elif msg="$($C regenerate /tmp/seeded.png --check --model "$ROOT/crates/art/tests/fixtures/diffusers/sd15" --device cpu 2>&1)"; then
  note "- the cuda recipe on the CPU was NOT refused"; fail=1
else
  note "- the cuda recipe on the CPU is refused: ${msg##*error: }"
fi

ARCH="${SPEED_ARCH:-sd15}" SIZE="${SPEED_SIZE:-512}" STEPS="${SPEED_STEPS:-25}" # tiny/64/2: a dry run
note "## 4. $ARCH architecture, ${SIZE}², $STEPS steps, CFG 7.5, DDIM, fp16 (whole process, seconds)"
model=/tmp/$ARCH-random
python3 "$ROOT/scripts/diffusers-reference/make_bench_model.py" --out "$model" --arch "$ARCH" \
  --merges "$ROOT/crates/art/assets/clip/clip_bpe_merges.txt.gz" >/dev/null
note "| run | Chrysalis | diffusers |"
note "| --- | ---: | ---: |"
for round in 1 2; do
  t0=$(date +%s.%N)
  $C generate --model "$model" --prompt "a glowing moth" --seed 1 --size "$SIZE" --steps "$STEPS" --guidance 7.5 \
    --scheduler ddim --dtype f16 --device "$DEV" --out /tmp/ours-$round.png >/dev/null
  t1=$(date +%s.%N)
  python3 "$ROOT/scripts/diffusers-reference/bench_diffusers.py" --model "$model" --out /tmp/theirs-$round.png \
    --prompt "a glowing moth" --size "$SIZE" --steps "$STEPS" --dtype f16 --threads "$(nproc)" --device "$TORCH_DEV" >/tmp/theirs-$round.json
  t2=$(date +%s.%N)
  note "| $round | $(python3 -c "print(f'{$t1 - $t0:.2f}')") | $(python3 -c "print(f'{$t2 - $t1:.2f}')") |"
done
note ""
note "diffusers' own split (last run): $(grep '^RESULT' /tmp/theirs-2.json | cut -c8-)"
exit $fail
