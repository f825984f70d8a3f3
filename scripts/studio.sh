#!/usr/bin/env bash
# Sets up what the desktop app needs, builds it with the UI embedded, and starts it on
# embedded defaults (procedural engine, local store, in-process Solana sandbox).
#
#   scripts/studio.sh [PROJECT_DIR]     opens PROJECT_DIR if given, else the welcome screen
#
# The first run compiles the app (several minutes on 2 cores); later runs start at once.
# For UI work with hot reload use `cd ui && npm run tauri dev` instead.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/setup.sh"

say "building the UI"
(cd ui && npm run build --silent)

say "building Chrysalis Studio (UI embedded) in $CARGO_TARGET_DIR"
# custom-protocol embeds ui/dist; a plain build would load the Vite dev server instead.
cargo build --locked -p chrysalis-studio --features custom-protocol

[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || die "no display: run this in a desktop session (or under xvfb-run)"
say "starting Chrysalis Studio"
exec "$CARGO_TARGET_DIR/debug/chrysalis-studio" "$@"
