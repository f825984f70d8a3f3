#!/usr/bin/env bash
# The libtorch diffusion backend (cargo feature `torch`): PyTorch's CPU kernels behind the
# same pipeline, recipes and weight loader (see crates/art/src/diffusion/torch/mod.rs and
# DEVELOPERS.md, "libtorch backend").
#
#   scripts/setup-torch.sh           # the venv with PyPI's torch 2.13 (what tch 0.26 links)
#   scripts/setup-torch.sh --build   # ... and build `chrysalis` with the backend, copied to
#                                    # $CARGO_TARGET_DIR/release/chrysalis-torch
#   eval "$(scripts/setup-torch.sh --env)"   # the variables cargo needs, for your own
#                                    # `cargo test/build --features torch` (or the app's)
#
# The binary records where libtorch is (an rpath, set by build.rs), so it runs without
# LD_LIBRARY_PATH as long as the venv stays where it is. CI never builds this feature.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode="${1:-}"
case "$mode" in "" | --build | --env) ;; *) die "usage: scripts/setup-torch.sh [--build | --env]" ;; esac

torch_venv
# tch's build script asks `python` (the first on PATH) where torch is.
env_lines=(
  "export PATH=\"$TORCH_VENV/bin:\$PATH\""
  "export LIBTORCH_USE_PYTORCH=1"
)
if [ "$mode" = --env ]; then
  printf '%s\n' "${env_lines[@]}"
  exit 0
fi
for l in "${env_lines[@]}"; do eval "$l"; done
say "libtorch: $("$TORCH_PY" -c 'import torch; print(torch.__version__, torch.__file__.rsplit("/", 1)[0] + "/lib")')"
[ "$mode" = --build ] || exit 0

say "building chrysalis --features torch (release; the first build compiles tch's C++ shim, a few minutes)"
(cd "$ROOT" && cargo build --release -q -p chrysalis-cli --features torch)
cp "$CARGO_TARGET_DIR/release/chrysalis" "$CARGO_TARGET_DIR/release/chrysalis-torch"
"$CARGO_TARGET_DIR/release/chrysalis-torch" devices | grep -q libtorch ||
  die "the build has no libtorch backend: 'chrysalis-torch devices' does not list it"
say "built $CARGO_TARGET_DIR/release/chrysalis-torch"
