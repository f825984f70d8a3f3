#!/usr/bin/env bash
# Regenerates crates/art/tests/fixtures/diffusers/: small random-weight SD models written by
# diffusers/transformers, with diffusers' outputs for fixed inputs (see
# scripts/diffusers-reference/make_fixtures.py). CI does not run this; it checks the Rust
# pipeline against the committed result (crates/art/tests/diffusers_equivalence.rs).
#
# The venv is lib.sh's diffusers_venv: pinned to the versions the fixtures were made with,
# created on first use outside the clone (override its place with DIFFUSERS_VENV).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

OUT="$ROOT/crates/art/tests/fixtures/diffusers"
diffusers_venv

say "writing fixtures to ${OUT#"$ROOT"/}"
mkdir -p "$OUT"
"$DIFFUSERS_PY" "$ROOT/scripts/diffusers-reference/make_fixtures.py" --out "$OUT" "$@"
# The LoRA and img2img fixtures (sd15/lora/, sd15/img2img/) are made from the sd15 model just written (rebuilding sd15
# removes it).
if [ -f "$OUT/sd15/model_index.json" ]; then
  "$DIFFUSERS_PY" "$ROOT/scripts/diffusers-reference/make_lora_fixture.py" --model "$OUT/sd15"
  "$DIFFUSERS_PY" "$ROOT/scripts/diffusers-reference/make_img2img_fixture.py" --model "$OUT/sd15"
fi
