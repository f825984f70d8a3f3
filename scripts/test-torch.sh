#!/usr/bin/env bash
# Tests of the libtorch diffusion backend (cargo feature `torch`), which needs PyPI's torch
# 2.13 wheel (1.2 GB; scripts/setup-torch.sh makes the venv). scripts/test.sh runs `--ci`.
#
#   scripts/test-torch.sh          # everything below
#   scripts/test-torch.sh --ci     # the engine's tests only (CI: the CLI's would rebuild it)
#
# Runs, in a build with the backend:
# - the diffusers equivalence tests with every whole run on libtorch
#   (CHRYSALIS_TEST_BACKEND=torch): DDIM, Euler, Euler-ancestral on SD 1.5 and SD 2.x
#   architectures, img2img, LCM and turbo-style few-step runs, and a kohya LoRA, each
#   against diffusers' own outputs;
# - the engine tests, including libtorch's bytes being identical across runs and thread
#   counts, close to candle's, and recipes refused on the other backend;
# - the CLI's diffusion tests with the feature on.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mode="${1:-}"
case "$mode" in "" | --ci) ;; *) die "usage: scripts/test-torch.sh [--ci]" ;; esac
eval "$("$ROOT/scripts/setup-torch.sh" --env)"
cd "$ROOT"
say "diffusers equivalence, whole runs on libtorch"
CHRYSALIS_TEST_BACKEND=torch cargo test -q --locked -p chrysalis-art --features torch --test diffusers_equivalence
say "engine tests with the libtorch backend built in"
cargo test -q --locked -p chrysalis-art --features torch --test diffusion
[ "$mode" = --ci ] && { say "libtorch backend: engine tests passed"; exit 0; }
say "CLI tests with the libtorch backend built in"
cargo test -q --locked -p chrysalis-cli --features torch --test art
say "libtorch backend: all tests passed"
