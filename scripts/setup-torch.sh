#!/usr/bin/env bash
# The libtorch diffusion backend (cargo feature `torch`): PyTorch's CPU kernels behind the
# same pipeline, recipes and weight loader (see crates/art/src/diffusion/torch/mod.rs and
# DEVELOPERS.md, "libtorch backend").
#
#   scripts/setup-torch.sh           # the venv with PyPI's torch 2.13 (what tch 0.26 links;
#                                    # the wheel, CUDA runtime and CUPTI only: ~1.3 GB)
#   scripts/setup-torch.sh --build   # ... and build `chrysalis` with the backend, copied to
#                                    # $CARGO_TARGET_DIR/release/chrysalis-torch
#   eval "$(scripts/setup-torch.sh --env)"   # the variables cargo needs, for your own
#                                    # `cargo test/build --features torch` (or the app's)
#
# The binary records where libtorch is (an rpath, set by build.rs), so it runs without
# LD_LIBRARY_PATH as long as the venv stays where it is. The normal build and app never
# compile this feature; scripts/test.sh tests it (scripts/test-torch.sh --ci).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode="${1:-}"
case "$mode" in "" | --build | --env) ;; *) die "usage: scripts/setup-torch.sh [--build | --env]" ;; esac

torch_venv
# torch-sys reads headers and libraries from LIBTORCH; LIBTORCH_USE_PYTORCH (import torch
# from Python) would take precedence, so it is unset.
env_lines=(
  "export LIBTORCH=\"$LIBTORCH\""
  "unset LIBTORCH_USE_PYTORCH"
)
if [ "$mode" = --env ]; then
  printf '%s\n' "${env_lines[@]}"
  exit 0
fi
for l in "${env_lines[@]}"; do eval "$l"; done
say "libtorch ${TORCH_PIN##*==}: $LIBTORCH/lib"
[ "$mode" = --build ] || exit 0

say "building chrysalis --features torch (release; the first build compiles tch's C++ shim, a few minutes)"
(cd "$ROOT" && cargo build --release -q -p chrysalis-cli --features torch)
cp "$CARGO_TARGET_DIR/release/chrysalis" "$CARGO_TARGET_DIR/release/chrysalis-torch"
"$CARGO_TARGET_DIR/release/chrysalis-torch" devices | grep -q libtorch ||
  die "the build has no libtorch backend: 'chrysalis-torch devices' does not list it"
say "built $CARGO_TARGET_DIR/release/chrysalis-torch"
