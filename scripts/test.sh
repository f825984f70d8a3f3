#!/usr/bin/env bash
# Sets everything up and runs every test: Rust (all crates, the program in native mode,
# the desktop commands), the UI's component tests, and the end-to-end run of the real
# desktop app under Xvfb. Starts and stops the servers the tests need (arlocal).
#
#   scripts/test.sh
#
# Ends with one line `tests: N passed, N failed`. Exits non-zero if anything failed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/setup.sh" --test

logs="$(mktemp -d)"
cleanup() {
  [ -x tools/arlocal/stop.sh ] && tools/arlocal/stop.sh >/dev/null 2>&1 || true
}
trap cleanup EXIT

if [ -x tools/arlocal/start.sh ]; then
  say "starting arlocal on 127.0.0.1"
  tools/arlocal/start.sh
fi

status=0
run_step() {
  local name="$1"; shift
  say "$name"
  local start=$SECONDS
  if "$@" 2>&1 | tee "$logs/$name.log"; then
    say "$name: ok ($((SECONDS - start)) s)"
  else
    say "$name: FAILED ($((SECONDS - start)) s)"
    status=1
  fi
}

run_step layering scripts/check-layering.sh
run_step format cargo fmt --all --check
run_step rust cargo test --workspace --locked
# The optional libtorch diffusion backend (feature `torch`, PyPI's torch 2.13 wheel).
run_step libtorch scripts/test-torch.sh --ci
# svelte-check first: the screens' types come from Rust (ts-rs), so a stale call fails here.
run_step ui bash -c 'cd ui && npm run --silent check && npm test --silent'
[ -x scripts/e2e.sh ] && run_step e2e scripts/e2e.sh

# One closing line over every runner: cargo's `test result:` lines, Vitest's and Mocha's
# summaries.
passed=0 failed=0
while read -r p f; do passed=$((passed + p)); failed=$((failed + f)); done < <(
  sed 's/\x1b\[[0-9;]*m//g' "$logs"/*.log | awk '
    /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p = $i; if ($(i+1) ~ /^failed/) f = $i } print p+0, f+0; next }
    /^ *Tests +[0-9]+ (passed|failed)/ { p = 0; f = 0; for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p = $i; if ($(i+1) ~ /^failed/) f = $i } print p+0, f+0; next }
    /^[0-9]+ passing/ { print $1+0, 0 }
    /^[0-9]+ failing/ { print 0, $1+0 }
  ')
[ $status -ne 0 ] && [ $failed -eq 0 ] && failed=1
echo "tests: $passed passed, $failed failed"
exit $status
