#!/usr/bin/env bash
# Regenerates programs/chrysalis/idl/chrysalis.json without the anchor CLI (Anchor's own
# IdlBuilder, the same output as `anchor idl build`). `--check` only verifies that the
# committed file is current.
#
#   programs/chrysalis/scripts/idl.sh           # rewrite idl/chrysalis.json
#   programs/chrysalis/scripts/idl.sh --check   # exit 1 if it is stale (for CI)
#
# Cost: after the first run, a few seconds. IDL builds use their own variant of Anchor's
# crates (feature `idl-build`), so they do not invalidate normal builds, nor the reverse.
# Set IDL_TARGET_DIR to use another target directory than CARGO_TARGET_DIR.
set -euo pipefail

crate_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${IDL_TARGET_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/chrysalis/target}}"
[[ "$target_dir" = /* ]] || target_dir="$PWD/$target_dir" # the inner cargo runs elsewhere
export CARGO_TARGET_DIR="$target_dir"
export OPENSSL_NO_VENDOR="${OPENSSL_NO_VENDOR:-1}"

# Anchor's builder runs its inner `cargo test` with RUSTFLAGS="-A warnings", which would make
# cargo rebuild every dependency. CARGO_ENCODED_RUSTFLAGS takes precedence over RUSTFLAGS, so
# pin it to the flags of normal builds and keep the cache valid.
if [[ -z "${CARGO_ENCODED_RUSTFLAGS+set}" ]]; then
  read -r -a flags <<<"${RUSTFLAGS:-}"
  CARGO_ENCODED_RUSTFLAGS="$(IFS=$'\x1f'; printf '%s' "${flags[*]:-}")"
  export CARGO_ENCODED_RUSTFLAGS
fi

# anchor-syn reads these at compile time (option_env!) and cargo tracks them: give the
# generator's own build the values Anchor's builder sets for its inner build (docs on,
# account resolution on, lint on), or the two builds would keep rebuilding Anchor's macros.
export ANCHOR_IDL_BUILD_NO_DOCS=FALSE ANCHOR_IDL_BUILD_RESOLUTION=TRUE ANCHOR_IDL_BUILD_SKIP_LINT=FALSE

# Build the generator, then run it directly rather than with `cargo run`: the variables that
# `cargo run` gives its child (CARGO_MANIFEST_DIR, RUSTUP_TOOLCHAIN, ...) would leak into the
# inner cargo and make it rebuild half the dependency tree (ring's build script tracks
# CARGO_MANIFEST_DIR).
cargo build --quiet --manifest-path "$crate_dir/Cargo.toml" --example idl --features idl-build
exec "$CARGO_TARGET_DIR/debug/examples/idl" "$@"
