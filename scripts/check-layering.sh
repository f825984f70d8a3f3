#!/usr/bin/env bash
# Enforces the dependency direction of DEVELOPERS.md: core <- art, storage, chain <- cli,
# src-tauri; no crate under crates/ depends on Tauri (directly or through another crate).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

fail=0
deps_of() { cargo tree --locked -p "$1" -e normal,build --prefix none --format '{p}' | awk '{print $1}' | sort -u; }

for manifest in crates/*/Cargo.toml; do
  crate="$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)"
  deps="$(deps_of "$crate")"
  if grep -qxE 'tauri|tauri-build|tauri-runtime|wry' <<<"$deps"; then
    echo "FAIL: $crate depends on Tauri: $(cargo tree -p "$crate" -i tauri --prefix none 2>/dev/null | head -3 | tr '\n' ' ')"
    fail=1
  fi
  case "$crate" in
    chrysalis-core) forbidden='chrysalis-(art|storage|chain|cli|studio)' ;;
    chrysalis-art|chrysalis-storage|chrysalis-chain) forbidden='chrysalis-(cli|studio)' ;;
    *) forbidden='chrysalis-studio' ;;
  esac
  if grep -qxE "$forbidden" <<<"$deps"; then
    echo "FAIL: $crate depends on $(grep -xE "$forbidden" <<<"$deps" | tr '\n' ' ')against the layering"
    fail=1
  fi
done
[ $fail -eq 0 ] && echo "layering: ok (no crate under crates/ depends on Tauri; dependencies point one way)"
exit $fail
