#!/usr/bin/env bash
# Regenerates crates/art/tests/fixtures/diffusers/: small random-weight SD models written by
# diffusers/transformers, with diffusers' outputs for fixed inputs (see
# scripts/diffusers-reference/make_fixtures.py). CI does not run this; it checks the Rust
# pipeline against the committed result (crates/art/tests/diffusers_equivalence.rs).
#
# peft is what diffusers' load_lora_weights needs (the LoRA fixture).
#
# The venv lives outside the clone (several GB: PyPI's torch wheel pulls CUDA libraries even
# for CPU use) and is created on first use with the versions the fixtures were made with.
# Override its place with DIFFUSERS_VENV.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

VENV="${DIFFUSERS_VENV:-$HOME/.cache/chrysalis/diffusers-venv}"
PINS=(torch==2.15.0 diffusers==0.42.1 transformers==5.25.0 safetensors==0.8.0 accelerate==1.16.0 numpy==2.4.6 peft==0.21.2)
OUT="$ROOT/crates/art/tests/fixtures/diffusers"

if [ ! -x "$VENV/bin/python" ]; then
  say "creating the diffusers venv in $VENV (downloads several GB)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet "${PINS[@]}"
fi
for pin in "${PINS[@]}"; do
  name="${pin%%==*}"
  have="$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$name'))" 2>/dev/null || echo missing)"
  # torch reports a local suffix (2.15.0+cu132): compare the public version only.
  [ "${have%%+*}" = "${pin##*==}" ] || say "warning: $VENV has $name $have, the fixtures were made with ${pin##*==}"
done

say "writing fixtures to ${OUT#"$ROOT"/}"
mkdir -p "$OUT"
"$VENV/bin/python" "$ROOT/scripts/diffusers-reference/make_fixtures.py" --out "$OUT" "$@"
# The LoRA fixture (sd15/lora/) is made from the sd15 model just written (rebuilding sd15
# removes it).
if [ -f "$OUT/sd15/model_index.json" ]; then
  "$VENV/bin/python" "$ROOT/scripts/diffusers-reference/make_lora_fixture.py" --model "$OUT/sd15"
fi
