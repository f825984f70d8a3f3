#!/usr/bin/env bash
# Runs every fuzz target for a while and says, per target, how many cases ran and whether
# anything failed. The targets are the `fuzz` integration tests of core, art, chain and
# storage (proptest on the stable toolchain; the harness is crates/core/tests/support/fuzz.rs),
# built in the test profile so overflow checks and debug assertions stay on.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 600 (10 minutes); TARGET defaults to all of them:
#   collection_toml metadata_json png_chunks diffusion_configs single_file_headers keypair_file
#   arweave_jwk car_import
# On a shared machine run it at low priority:
#   nohup nice -n 19 scripts/fuzz.sh > /tmp/fuzz.log 2>&1 &
#
# A failure is shrunk to a small input, printed, and its seed saved to the crate's
# tests/proptest-regressions/fuzz.txt (replayed by every later run, CI included): fix the
# parser, add a named regression test to the crate's tests/fuzz.rs, commit both. A hang
# (one case over CHRYSALIS_FUZZ_HANG_SECONDS, default 60) or an absurd allocation aborts
# the target with its input saved under $CARGO_TARGET_DIR/tmp/fuzz-<target>-input.txt.
# Ends with one line `fuzz: N targets, N cases, N failed`; exits non-zero if any failed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

seconds="${1:-600}"
[ $# -gt 0 ] && shift
[[ "$seconds" =~ ^[0-9]+$ ]] || die "SECONDS_PER_TARGET must be a whole number, not \"$seconds\""

declare -A crate_of=(
  [collection_toml]=chrysalis-core
  [metadata_json]=chrysalis-core
  [png_chunks]=chrysalis-art
  [diffusion_configs]=chrysalis-art
  [single_file_headers]=chrysalis-art
  [keypair_file]=chrysalis-chain
  [arweave_jwk]=chrysalis-storage
  [car_import]=chrysalis-storage
)
all=(collection_toml metadata_json png_chunks diffusion_configs single_file_headers keypair_file arweave_jwk car_import)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
for t in "${targets[@]}"; do
  [ -n "${crate_of[$t]:-}" ] || die "unknown target \"$t\" (targets: ${all[*]})"
done

crates=()
for t in "${targets[@]}"; do
  c="${crate_of[$t]}"
  [[ " ${crates[*]} " == *" $c "* ]] || crates+=("$c")
done
say "building the fuzz targets of ${crates[*]}"
# The binaries are run directly, not through `cargo test`: cargo would hold the build
# directory's lock for the whole run and keep every other cargo command waiting.
declare -A exe_of=() dir_of=()
while IFS=$'\t' read -r name exe dir; do
  exe_of[$name]="$exe"
  dir_of[$name]="$dir"
done < <(
  cargo test --locked --no-run --message-format=json $(printf -- '-p %s ' "${crates[@]}") --test fuzz |
    python3 -c '
import json, os, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "fuzz" and m.get("executable"):
        pkg = m["package_id"].split("#")[-1].split("@")[0]
        print(pkg, m["executable"], os.path.dirname(m["manifest_path"]), sep="\t")
'
)
for c in "${crates[@]}"; do
  [ -n "${exe_of[$c]:-}" ] || die "cargo built no fuzz test for $c"
done

logs="$CARGO_TARGET_DIR/fuzz-logs/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$logs"
summary=()
total=0 failed=0
for t in "${targets[@]}"; do
  say "$t: ${seconds} s (log: $logs/$t.log)"
  start=$SECONDS
  rc=0
  # The harness stops itself after $seconds (plus the batch in progress and any shrinking);
  # the outer timeout only catches a run that cannot stop.
  c="${crate_of[$t]}"
  (cd "${dir_of[$c]}" && CHRYSALIS_FUZZ_SECONDS="$seconds" timeout --kill-after=30 $((seconds + 1200)) \
    "${exe_of[$c]}" --exact "$t" --nocapture --test-threads=1) > "$logs/$t.log" 2>&1 || rc=$?
  line="$(grep -ao "fuzz $t: .*" "$logs/$t.log" | tail -n 1 || true)"
  cases="$(sed -n 's/^fuzz [a-z_]*: \([0-9]*\) cases.*/\1/p' <<< "$line")"
  total=$((total + ${cases:-0}))
  if [ $rc -eq 0 ]; then
    summary+=("ok      $t: ${line#fuzz $t: }")
  else
    failed=$((failed + 1))
    why="${line#fuzz $t: }"
    [ $rc -eq 124 ] && why="timed out"
    [ $rc -eq 134 ] && why="aborted (hang or huge allocation; see the log)"
    summary+=("FAILED  $t after $((SECONDS - start)) s: ${why:-exit $rc} (log: $logs/$t.log)")
    tail -n 40 "$logs/$t.log" | cut -c1-2000 >&2
  fi
done

printf '%s\n' "${summary[@]}"
echo "fuzz: ${#targets[@]} targets, $total cases, $failed failed"
[ $failed -eq 0 ]
