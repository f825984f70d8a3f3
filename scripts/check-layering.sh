#!/usr/bin/env bash
# Enforces the dependency direction of DEVELOPERS.md and ARCHITECTURE.md:
#
#   core <- art, storage, chain <- pipeline <- cli, src-tauri
#
# Each of our crates may depend (directly or through another crate) only on the crates to its
# left; art, storage and chain know nothing of each other; the two faces (cli, src-tauri)
# know nothing of each other; no crate under crates/ depends on Tauri. The program crate
# (`chrysalis`, programs/chrysalis) sits beside core: only chain and pipeline may use it.
# Inside each crate, files depend one way too: scripts/check-import-cycles.py.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# What each crate may reach, among ours. Anything of ours not listed is forbidden.
declare -A allowed=(
  [chrysalis-core]=""
  [chrysalis-art]="chrysalis-core"
  [chrysalis-storage]="chrysalis-core"
  [chrysalis-chain]="chrysalis-core chrysalis"
  [chrysalis-pipeline]="chrysalis-core chrysalis-art chrysalis-storage chrysalis-chain chrysalis"
  [chrysalis-cli]="chrysalis-core chrysalis-art chrysalis-storage chrysalis-chain chrysalis chrysalis-pipeline"
  [chrysalis-studio]="chrysalis-core chrysalis-art chrysalis-storage chrysalis-chain chrysalis chrysalis-pipeline"
)
ours='chrysalis|chrysalis-(core|art|storage|chain|pipeline|cli|studio)'

fail=0
deps_of() { cargo tree --locked -p "$1" -e normal,build --prefix none --format '{p}' | awk '{print $1}' | sort -u; }

check() {
  local crate="$1" under_crates="$2"
  [ -n "${allowed[$crate]+x}" ] || { echo "FAIL: $crate is not in check-layering.sh's table: place it in the layering"; fail=1; return; }
  local deps
  deps="$(deps_of "$crate" | grep -vx "$crate")"
  if [ "$under_crates" = 1 ] && grep -qxE 'tauri|tauri-build|tauri-runtime|wry' <<<"$deps"; then
    echo "FAIL: $crate depends on Tauri: $(cargo tree -p "$crate" -i tauri --prefix none 2>/dev/null | head -3 | tr '\n' ' ')"
    fail=1
  fi
  local dep
  for dep in $(grep -xE "$ours" <<<"$deps" || true); do
    if [[ " ${allowed[$crate]} " != *" $dep "* ]]; then
      echo "FAIL: $crate depends on $dep, against the layering (core <- art, storage, chain <- pipeline <- cli, src-tauri)"
      fail=1
    fi
  done
}

for manifest in crates/*/Cargo.toml; do
  check "$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)" 1
done
check chrysalis-studio 0
python3 scripts/check-import-cycles.py "$ROOT" || fail=1

[ $fail -eq 0 ] && echo "layering: ok (core <- art, storage, chain <- pipeline <- cli, src-tauri; no crate under crates/ depends on Tauri)"
exit $fail
