#!/usr/bin/env bash
# Chrysalis' diffusion beside Hugging Face diffusers (PyTorch) on the CPU: the same random
# Stable Diffusion 1.5-architecture weights, DDIM, guidance 7.5, the same prompt, batch 1,
# both tools in the same run, alternating.
#
#   scripts/bench-diffusers.sh                # everything: venv, model, build, time, tables
#   QUICK=1 scripts/bench-diffusers.sh        # smoke run: a tiny model, 256², 1 and 2 steps
#   ROUNDS=3 scripts/bench-diffusers.sh       # before quoting a ratio, on a quiet machine
#
# What runs:
# - The model: scripts/diffusers-reference/make_bench_model.py writes SD 1.5's real configs
#   (1.07 B parameters) with seeded random weights and CLIP's real vocabulary through
#   diffusers' save_pretrained, f32 safetensors, into $CHRYSALIS_CACHE/bench-models/sd15-random
#   once (rewritten when that script or the pins change). Both tools load that folder.
# - Each image is its own process, timed from process start to exit (the PNG written) with
#   GNU time, which also gives its peak RSS: `chrysalis generate --scheduler ddim` on one
#   side, scripts/diffusers-reference/bench_diffusers.py (StableDiffusionPipeline +
#   DDIMScheduler) on the other. diffusers' wall time includes importing torch.
# - For each size and precision both step counts of STEPS run; s/step is the difference
#   (t(8) - t(4)) / 4, and the fixed cost (load, prompt encoding, VAE decode, PNG, process
#   start) is t(8) - 8 x s/step. diffusers also reports its in-pipeline times (import, load,
#   per-step from its step callback); the Chrysalis CLI prints no timings, so its side of
#   those columns is empty.
# - Precisions: f32 against f32 at every size; Chrysalis' f16 (and bf16 where its --dtype
#   offers it) against diffusers' bf16 (PyTorch's fast reduced precision on CPUs) at the
#   largest size. Chrysalis runs the VAE in f32 under f16 (the VAE's force_upcast);
#   StableDiffusionPipeline runs it in bf16.
# - Before timing, each tool makes one untimed 256² 1-step image (page cache, Python's
#   bytecode cache, Chrysalis' model-hash cache: its first load of a new file hashes it).
#
# Environment:
#   SIZES ("256 512")  STEPS ("4 8": two or more counts; s/step uses the smallest and largest)
#   DTYPES ("f32 f16 bf16"): Chrysalis precisions; those its --dtype lacks are skipped unless
#                  named explicitly. f32 runs at every size, the others at LOWP_SIZES
#   LOWP_SIZES     sizes for the reduced-precision rows (default: the largest of SIZES)
#   DIFFUSERS_LOWP (bf16): what diffusers runs against Chrysalis' f16/bf16 (bf16 or f16)
#   ROUNDS (1)     each round times every case once; the tables show means
#   THREADS        threads for both tools (default: nproc): RAYON_NUM_THREADS for Chrysalis
#                  (candle), torch.set_num_threads + OMP_NUM_THREADS for PyTorch
#   BACKENDS ("candle torch" when the binary has the libtorch backend, else "candle"):
#                  Chrysalis' tensor libraries to time (`generate --backend`); each gets its
#                  own rows beside the same diffusers runs. libtorch threads: OMP_NUM_THREADS
#   CHRYSALIS_BIN  a chrysalis binary to use instead of building one (default: the libtorch
#                  build of scripts/setup-torch.sh --build, which runs both backends)
#   DIFFUSERS_VENV the pinned venv (see diffusers_venv in lib.sh; created on first use)
#   KEEP_WORK=1    keep the scratch folder with every image and log
#   QUICK=1        smoke run: the fixture-sized model, SIZES=256, STEPS="1 2", f32 and f16
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started="$(date +%s)"
QUICK="${QUICK:-0}"
if [ "$QUICK" = 1 ]; then
  ARCH=tiny
  SIZES="${SIZES:-256}"
  STEPS="${STEPS:-1 2}"
else
  ARCH=sd15
  SIZES="${SIZES:-256 512}"
  STEPS="${STEPS:-4 8}"
fi
DTYPES_GIVEN="${DTYPES:+1}"
DTYPES="${DTYPES:-f32 f16 bf16}"
ROUNDS="${ROUNDS:-1}"
THREADS="${THREADS:-$(nproc)}"
DIFFUSERS_LOWP="${DIFFUSERS_LOWP:-bf16}"
PROMPT="a glowing moth in a neon forest, oil painting"
NEGATIVE="blurry"
GUIDANCE=7.5
SEED=1

for s in $SIZES; do
  [[ "$s" =~ ^[0-9]+$ ]] && [ "$s" -ge 256 ] && [ "$s" -le 2048 ] && [ $((s % 8)) -eq 0 ] ||
    die "SIZES: each must be a multiple of 8 in 256..2048, got '$s'"
done
for n in $STEPS; do [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "STEPS: whole numbers >= 1, got '$n'"; done
[ "$(printf '%s\n' $STEPS | sort -un | wc -l)" -ge 2 ] || die "STEPS needs two different step counts (s/step is their difference), got '$STEPS'"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive whole number, got '$ROUNDS'"
[[ "$THREADS" =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive whole number, got '$THREADS'"
case "$DIFFUSERS_LOWP" in bf16 | f16) ;; *) die "DIFFUSERS_LOWP must be bf16 or f16, got '$DIFFUSERS_LOWP'" ;; esac
LOWP_SIZES="${LOWP_SIZES:-$(printf '%s\n' $SIZES | sort -n | tail -1)}"

apt_install time
diffusers_venv

# --- Chrysalis ----------------------------------------------------------------------------
if [ -n "${CHRYSALIS_BIN:-}" ]; then
  bin="$CHRYSALIS_BIN"
else
  say "building chrysalis with the libtorch backend (release; scripts/setup-torch.sh --build)"
  "$ROOT/scripts/setup-torch.sh" --build >&2
  bin="$CARGO_TARGET_DIR/release/chrysalis-torch"
fi
[ -x "$bin" ] || die "no chrysalis binary at $bin"
has_torch=0
"$bin" devices 2>/dev/null | grep -q libtorch && has_torch=1
if [ "$has_torch" = 1 ]; then BACKENDS="${BACKENDS:-candle torch}"; torch_venv; else BACKENDS="${BACKENDS:-candle}"; fi
ours_tools=()
for b in $BACKENDS; do
  case "$b" in
    candle) ours_tools+=(chrysalis) ;;
    torch) [ "$has_torch" = 1 ] || die "BACKENDS has torch but $bin has no libtorch backend (build one: scripts/setup-torch.sh --build)"
      ours_tools+=(chrysalis-torch) ;;
    *) die "BACKENDS: candle or torch, got '$b'" ;;
  esac
done
# The precisions this binary's `generate --dtype` takes ("[possible values: f32, f16]").
have_dtypes="$("$bin" generate --help | sed -n '/--dtype/,/possible values/p' | grep -o 'possible values: .*' | sed 's/possible values: //; s/[],[]/ /g' | xargs)"
[ -n "$have_dtypes" ] || die "cannot read the --dtype values from '$bin generate --help'"
ours_dtypes=()
for d in $DTYPES; do
  if [[ " $have_dtypes " == *" $d "* ]]; then
    ours_dtypes+=("$d")
  elif [ -n "$DTYPES_GIVEN" ]; then
    die "chrysalis generate --dtype takes $have_dtypes, not '$d' (DTYPES=$DTYPES)"
  else
    say "chrysalis generate --dtype has no $d (it takes $have_dtypes): no Chrysalis $d row"
  fi
done
[[ " ${ours_dtypes[*]} " == *" f32 "* ]] || die "DTYPES must include f32 (the rows at every size), got '$DTYPES'"
theirs_dtype() { if [ "$1" = f32 ]; then echo f32; else echo "$DIFFUSERS_LOWP"; fi; }

# --- The model ----------------------------------------------------------------------------
models="${CHRYSALIS_CACHE:-$HOME/.cache/chrysalis}/bench-models"
model="$models/$ARCH-random"
merges="$ROOT/crates/art/assets/clip/clip_bpe_merges.txt.gz"
maker="$ROOT/scripts/diffusers-reference/make_bench_model.py"
model_key="$(cat "$maker" "$merges" <(printf '%s\n' "${DIFFUSERS_PINS[@]}" "$ARCH") | sha256sum | cut -c1-16)"
if [ "$(cat "$model/.complete" 2>/dev/null)" != "$model_key" ]; then
  if [ "$ARCH" = sd15 ]; then say "writing the random SD 1.5-architecture model to $model (4.3 GB, a few minutes)"; else say "writing the random $ARCH model to $model"; fi
  mkdir -p "$models"
  rm -rf "$model" "$model.partial"
  OMP_NUM_THREADS="$THREADS" "$DIFFUSERS_PY" "$maker" --arch "$ARCH" --merges "$merges" --out "$model.partial" 2>&1 |
    grep -v torchvision >&2 || die "make_bench_model.py failed"
  [ -f "$model.partial/model_index.json" ] || die "make_bench_model.py wrote no model to $model.partial"
  mv "$model.partial" "$model"
  echo "$model_key" >"$model/.complete"
fi
model_bytes="$(du -sb "$model" | cut -f1)"
# Both tools read the weights from the page cache, not the disk.
cat "$model"/*/*.safetensors >/dev/null

work="$(mktemp -d "${TMPDIR:-/tmp}/bench-diffusers.XXXXXX")"
if [ "${KEEP_WORK:-0}" = 1 ]; then say "scratch folder (kept): $work"; else trap 'rm -rf "$work"' EXIT; fi

export HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 TRANSFORMERS_VERBOSITY=error DIFFUSERS_VERBOSITY=error

# The command line for one image: tool dtype size steps png
command_for() {
  local tool="$1" dtype="$2" size="$3" steps="$4" png="$5"
  if [ "$tool" != diffusers ]; then
    local backend=()
    [ "$tool" = chrysalis-torch ] && backend=(--backend torch)
    printf '%s\0' env RAYON_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS" "$bin" generate --model "$model" --prompt "$PROMPT" \
      --negative "$NEGATIVE" --seed "$SEED" --steps "$steps" --guidance "$GUIDANCE" --scheduler ddim \
      --dtype "$dtype" --size "$size" --out "$png" --json "${backend[@]}"
  else
    printf '%s\0' env OMP_NUM_THREADS="$THREADS" "$DIFFUSERS_PY" "$ROOT/scripts/diffusers-reference/bench_diffusers.py" \
      --model "$model" --prompt "$PROMPT" --negative "$NEGATIVE" --seed "$SEED" --steps "$steps" \
      --guidance "$GUIDANCE" --dtype "$dtype" --size "$size" --threads "$THREADS" --out "$png"
  fi
}

results="$work/results.tsv"
printf 'tool\tdtype\tsize\tsteps\tround\twall\tcpu\trss_kib\tloadavg\tpipe\timport\tload\tcb_step\tthreads\n' >"$results"

# One timed image: tool dtype size steps round ("warmup" for the untimed first images).
run_one() {
  local tool="$1" dtype="$2" size="$3" steps="$4" round="$5"
  local name="$tool-$dtype-$size-$steps-$round"
  local png="$work/$name.png" log="$work/$name.log" load cmd=()
  mapfile -d '' cmd < <(command_for "$tool" "$dtype" "$size" "$steps" "$png")
  load="$(cut -d' ' -f1 /proc/loadavg)"
  /usr/bin/time -f '%e %M %U %S' -o "$work/time.txt" "${cmd[@]}" >"$log" 2>&1 ||
    { grep -v torchvision "$log" | tail -20 >&2; die "$tool $dtype ${size}² $steps steps failed (log: $log)"; }
  [ -s "$png" ] || die "$tool wrote no PNG at $png"
  local wall rss user sys
  read -r wall rss user sys < <(tail -1 "$work/time.txt")
  local pipe=- import=- loadt=- cb=- threads="$THREADS"
  if [ "$tool" = diffusers ]; then
    local fields
    fields="$("$DIFFUSERS_PY" -c '
import json, sys
line = [l for l in open(sys.argv[1]) if l.startswith("RESULT ")][-1]
r = json.loads(line[7:])
cb = "%.3f" % (sum(r["steps"]) / len(r["steps"])) if r["steps"] else "-"
print(r["pipe_s"], r["import_s"], r["load_s"], cb, r["threads"])' "$log")" || die "no RESULT line in $log"
    read -r pipe import loadt cb threads <<<"$fields"
  fi
  [ "$round" = warmup ] && { say "  warm-up $tool $dtype: ${wall} s, $((rss / 1024)) MiB"; return 0; }
  local cpu
  cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.1f", u + s}')"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$dtype" "$size" "$steps" "$round" \
    "$wall" "$cpu" "$rss" "$load" "$pipe" "$import" "$loadt" "$cb" "$threads" >>"$results"
  printf '  %-9s %-4s %4s² %2s steps round %s: %7.2f s wall, %7.1f s CPU, %6d MiB peak, load before %s\n' \
    "$tool" "$dtype" "$size" "$steps" "$round" "$wall" "$cpu" $((rss / 1024)) "$load" >&2
  [ "${KEEP_WORK:-0}" = 1 ] || rm -f "$png"
}

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
awk -v l="${load_start%% *}" 'BEGIN{exit !(l > 0.5)}' &&
  say "warning: load average $load_start before starting: the cores are not idle, wall times will be noisy"

say "warming up: one 256² 1-step image per tool (untimed)"
for tool in "${ours_tools[@]}"; do run_one "$tool" f32 256 1 warmup; done
run_one diffusers f32 256 1 warmup

say "timing: sizes $SIZES, steps $STEPS, Chrysalis (${BACKENDS}) ${ours_dtypes[*]} (reduced precision at $LOWP_SIZES) against diffusers f32/$DIFFUSERS_LOWP, $ROUNDS round(s), $THREADS threads"
for ((r = 1; r <= ROUNDS; r++)); do
  for size in $SIZES; do
    for steps in $STEPS; do
      done_theirs=" "
      for d in "${ours_dtypes[@]}"; do
        [ "$d" = f32 ] || [[ " $LOWP_SIZES " == *" $size "* ]] || continue
        t="$(theirs_dtype "$d")"
        pair=()
        for tool in "${ours_tools[@]}"; do pair+=("$tool $d"); done
        # Odd rounds run Chrysalis first, even rounds diffusers.
        if ! [[ "$done_theirs" == *" $t "* ]]; then
          if [ $((r % 2)) -eq 0 ]; then pair=("diffusers $t" "${pair[@]}"); else pair+=("diffusers $t"); fi
        fi
        done_theirs+="$t "
        for p in "${pair[@]}"; do
          read -r tool dt <<<"$p"
          run_one "$tool" "$dt" "$size" "$steps" "$r"
        done
      done
    done
  done
done
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- Tables --------------------------------------------------------------------------------
CPU_MODEL="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
  CORES="$(nproc)" THREADS="$THREADS" LOAD_START="$load_start" LOAD_END="$load_end" ARCH="$ARCH" \
  MODEL="$model" MODEL_BYTES="$model_bytes" OURS_VERSION="$("$bin" --version)" DIFFUSERS_LOWP="$DIFFUSERS_LOWP" \
  ELAPSED="$(($(date +%s) - started))" ROUNDS="$ROUNDS" OURS_TOOLS="${ours_tools[*]}" \
  TORCH_LINKED="$([ "$has_torch" = 1 ] && "$TORCH_PY" -c "import importlib.metadata as m; print(m.version('torch'))" 2>/dev/null || echo -)" \
  "$DIFFUSERS_PY" - "$results" <<'PY'
import csv, os, sys, datetime
import importlib.metadata as md
from collections import defaultdict

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
env = os.environ
num = lambda v: None if v in ("-", "", None) else float(v)
runs = defaultdict(list)  # (tool, dtype, size, steps) -> rows
for r in rows:
    runs[(r["tool"], r["dtype"], int(r["size"]), int(r["steps"]))].append(r)
mean = lambda xs: sum(xs) / len(xs) if xs else None
def wall(tool, dt, size, steps):
    return mean([float(r["wall"]) for r in runs.get((tool, dt, size, steps), [])])
steps_all = sorted({k[3] for k in runs})
a, b = steps_all[0], steps_all[-1]

def side(tool, dt, size):
    ta, tb = wall(tool, dt, size, a), wall(tool, dt, size, b)
    if ta is None or tb is None:
        return None
    per = (tb - ta) / (b - a)
    cpu = lambda steps: mean([float(r["cpu"]) for r in runs[(tool, dt, size, steps)]])
    cpu_per = (cpu(b) - cpu(a)) / (b - a)
    rss = max(int(r["rss_kib"]) for s in steps_all for r in runs.get((tool, dt, size, s), []))
    last = runs[(tool, dt, size, b)]
    pipe = mean([num(r["pipe"]) for r in last if num(r["pipe"]) is not None])
    cb = mean([num(r["cb_step"]) for r in last if num(r["cb_step"]) is not None])
    pre = mean([num(r["import"]) + num(r["load"]) for r in last if num(r["import"]) is not None])
    return dict(per=per, cpu_per=cpu_per, fixed=tb - b * per, whole=tb, rss=rss / 2**20, pipe=pipe, cb=cb, pre=pre)

f = lambda v, p=2: "—" if v is None else f"{v:.{p}f}"
x = lambda o, t: "—" if not (o and t) else f"{o / t:.2f}×"
ver = lambda p: md.version(p)
print()
print(f"{datetime.date.today().isoformat()}, {env['CPU_MODEL']}, {env['CORES']} cores, {env['THREADS']} threads per tool; "
      f"load average (1/5/15 min) {env['LOAD_START']} before, {env['LOAD_END']} after; {env['ROUNDS']} round(s), the run took {int(env['ELAPSED']) // 60} min")
print(f"{env['OURS_VERSION']} (candle; libtorch {env['TORCH_LINKED']} where it says torch) beside diffusers {ver('diffusers')} / torch {ver('torch')} / transformers {ver('transformers')}; "
      f"random {'SD 1.5-architecture' if env['ARCH'] == 'sd15' else 'fixture-sized (QUICK)'} model, f32 files ({int(env['MODEL_BYTES']) / 1e9:.2f} GB); "
      f"DDIM, guidance 7.5, batch 1, one process per image")
print()
print(f"| image | Chrysalis backend | Chrysalis / diffusers | s/step (Chrysalis, diffusers) | × | CPU s/step | × | fixed s | image s, {b} steps | × | peak RSS GiB | × | diffusers in-pipeline: import + load s, pipeline s, callback s/step |")
print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
sizes = sorted({k[2] for k in runs})
for size in sizes:
    for dt in ["f32", "f16", "bf16"]:
        theirs = "f32" if dt == "f32" else env["DIFFUSERS_LOWP"]
        for tool in env["OURS_TOOLS"].split():
            o, t = side(tool, dt, size), side("diffusers", theirs, size)
            if not o or not t:
                continue
            backend = "libtorch" if tool == "chrysalis-torch" else "candle"
            print(f"| {size}² | {backend} | {dt} / {theirs} | {f(o['per'])}, {f(t['per'])} | {x(o['per'], t['per'])} | {f(o['cpu_per'], 1)}, {f(t['cpu_per'], 1)} | {x(o['cpu_per'], t['cpu_per'])} | {f(o['fixed'], 1)}, {f(t['fixed'], 1)} "
                  f"| {f(o['whole'], 1)}, {f(t['whole'], 1)} | {x(o['whole'], t['whole'])} | {f(o['rss'])}, {f(t['rss'])} | {x(o['rss'], t['rss'])} "
                  f"| {f(t['pre'], 1)}, {f(t['pipe'], 1)}, {f(t['cb'])} |")
print()
print(f"× = Chrysalis / diffusers (below 1: Chrysalis is faster or smaller). s/step = (t({b}) - t({a})) / {b - a}; fixed = t({b}) - {b} × s/step "
      "(process start, load, prompt, VAE decode, PNG). CPU s/step is the same difference in user + system CPU seconds: "
      "steadier than wall time when other work shares the cores, but it counts threads spinning while they wait. Wall time is process start to exit, the PNG written; diffusers' includes importing torch. "
      "The Chrysalis CLI reports no in-pipeline timings.")
if env["ARCH"] == "tiny":
    print("\nQUICK smoke run: the tiny model's steps take less time than the noise, so these figures only show that the script works.")
print()
print("| tool | precision | size | steps | round | wall s | CPU s | peak RSS MiB | in-pipeline s | import s | load s | callback s/step | threads | load avg before |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in rows:
    print(f"| {r['tool']} | {r['dtype']} | {r['size']}² | {r['steps']} | {r['round']} | {r['wall']} | {r['cpu']} | {int(r['rss_kib']) // 1024} "
          f"| {r['pipe']} | {r['import']} | {r['load']} | {r['cb_step']} | {r['threads']} | {r['loadavg']} |")
PY
