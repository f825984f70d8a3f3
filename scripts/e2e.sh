#!/usr/bin/env bash
# End-to-end test of Chrysalis Studio: builds the UI and an app binary that embeds it,
# installs tauri-driver if needed, and drives the real app through tauri-driver and
# WebKitWebDriver under Xvfb (tests/e2e/specs). Works from a fresh clone.
#
#   scripts/e2e.sh                        debug build (quicker to compile)
#   E2E_PROFILE=release scripts/e2e.sh    release build
#
# CARGO_TARGET_DIR is honoured (default ~/.cache/chrysalis/target, outside the clone).
# TAURI_DRIVER may name a tauri-driver to use; otherwise one on PATH, else the one
# installed into $CARGO_TARGET_DIR/../bin (as scripts/setup.sh does). KEEP_E2E_TMP=1 keeps
# the scratch projects. Screenshots land in tests/e2e/screenshots/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

profile="${E2E_PROFILE:-debug}"
case "$profile" in
  debug) profile_flag=() ;;
  release) profile_flag=(--release) ;;
  *) die "E2E_PROFILE must be debug or release, not '$profile'" ;;
esac

apt_install xvfb xauth webkit2gtk-driver
command -v npm >/dev/null || die "Node.js 20+ is not installed (scripts/setup.sh installs it)"

npm_ci "$ROOT/ui"
npm_ci "$ROOT/tests/e2e"

say "building the UI (ui/dist)"
(cd ui && npm run build --silent)

say "building the app ($profile, UI embedded) in $CARGO_TARGET_DIR"
# The custom-protocol feature embeds ui/dist; without it the binary would load the Vite
# dev server (devUrl) instead.
cargo build --locked -p chrysalis-studio --features custom-protocol "${profile_flag[@]}"
export CHRYSALIS_STUDIO_BIN="$CARGO_TARGET_DIR/$profile/chrysalis-studio"

if [ -z "${TAURI_DRIVER:-}" ]; then
  tools="$CARGO_TARGET_DIR/../bin"
  if command -v tauri-driver >/dev/null; then
    TAURI_DRIVER="$(command -v tauri-driver)"
  else
    if [ ! -x "$tools/bin/tauri-driver" ]; then
      say "installing tauri-driver into $tools"
      cargo install tauri-driver --locked --root "$tools"
    fi
    TAURI_DRIVER="$tools/bin/tauri-driver"
  fi
fi
export TAURI_DRIVER

say "running the end-to-end tests under Xvfb ($TAURI_DRIVER)"
rm -f tests/e2e/screenshots/*.png
cd tests/e2e
xvfb-run --auto-servernum --server-args="-screen 0 1280x900x24" npm test
say "screenshots in tests/e2e/screenshots/"
