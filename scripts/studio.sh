#!/usr/bin/env bash
# Sets up what the desktop app needs, builds it with the UI embedded, and starts it on
# embedded defaults (procedural engine, local store, in-process Solana sandbox).
#
#   scripts/studio.sh [PROJECT_DIR]          opens PROJECT_DIR if given, else the welcome screen
#   scripts/studio.sh --torch [PROJECT_DIR]  the same, built with the libtorch diffusion
#                                            backend (scripts/setup-torch.sh makes its venv)
#
# The first run compiles the app (several minutes on 2 cores); later runs start at once.
# For UI work with hot reload use `cd ui && npm run tauri dev` instead.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

features=custom-protocol
if [ "${1:-}" = --torch ]; then
  shift
  eval "$("$ROOT/scripts/setup-torch.sh" --env)"
  features+=",torch"
fi

"$ROOT/scripts/setup.sh"

say "building the UI"
(cd ui && npm run build --silent)

say "building Chrysalis Studio (UI embedded) in $CARGO_TARGET_DIR"
# custom-protocol embeds ui/dist; a plain build would load the Vite dev server instead.
cargo build --locked -p chrysalis-studio --features "$features"

[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || die "no display: run this in a desktop session (or under xvfb-run)"
say "starting Chrysalis Studio"
exec "$CARGO_TARGET_DIR/debug/chrysalis-studio" "$@"
