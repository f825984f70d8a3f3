#!/usr/bin/env bash
# End-to-end test of Chrysalis Studio: builds the app with the Tauri CLI exactly as it
# ships (UI embedded, bundled as a .deb), installs tauri-driver if needed, and drives that
# same binary through tauri-driver and WebKitWebDriver under Xvfb (tests/e2e/specs).
# Works from a fresh clone. Fails if the .deb was not produced.
#
#   scripts/e2e.sh                        debug build (quicker to compile)
#   E2E_PROFILE=release scripts/e2e.sh    release build
#
# CARGO_TARGET_DIR is honoured (default ~/.cache/chrysalis/target, outside the clone).
# TAURI_DRIVER may name a tauri-driver to use; otherwise one on PATH, else the one
# installed into $CARGO_TARGET_DIR/../bin (as scripts/setup.sh does). KEEP_E2E_TMP=1 keeps
# the scratch projects. Screenshots land in tests/e2e/screenshots/; E2E_UPDATE_DOCS=1
# also copies them to docs/screenshots/studio-<screen>.png (the README shows those).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

profile="${E2E_PROFILE:-debug}"
case "$profile" in
  debug) profile_flag=(--debug) ;;
  release) profile_flag=() ;;
  *) die "E2E_PROFILE must be debug or release, not '$profile'" ;;
esac

apt_install xvfb xauth webkit2gtk-driver
command -v npm >/dev/null || die "Node.js 20+ is not installed (scripts/setup.sh installs it)"

npm_ci "$ROOT/ui"
npm_ci "$ROOT/tests/e2e"

say "building the app and its .deb with the Tauri CLI ($profile) in $CARGO_TARGET_DIR"
# `tauri build` runs the UI build (beforeBuildCommand), compiles with the custom-protocol
# feature (ui/dist embedded instead of the Vite dev server) and bundles the .deb
# (AppImage would download tools from GitHub). A debug build shares the test build cache
# and keeps CI inside its budget. The e2e below runs this very binary.
deb_dir="$CARGO_TARGET_DIR/$profile/bundle/deb"
rm -rf "$deb_dir"
# Arguments after the second `--` go to cargo: the lock file is used as committed.
(cd ui && npm run --silent tauri -- build "${profile_flag[@]}" --bundles deb --ci -- --locked)
debs=("$deb_dir"/*.deb)
[ -f "${debs[0]}" ] || die "tauri build produced no .deb in $deb_dir"
contents="$(dpkg-deb --contents "${debs[0]}")"
grep -qE '[ /]usr/bin/chrysalis-studio$' <<<"$contents" \
  || die "${debs[0]} does not install usr/bin/chrysalis-studio"
say "bundled ${debs[0]} ($(du -h "${debs[0]}" | cut -f1))"
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
if [ "${E2E_UPDATE_DOCS:-}" = 1 ]; then
  for shot in screenshots/*.png; do
    cp "$shot" "$ROOT/docs/screenshots/studio-$(basename "$shot")"
  done
  say "copied them to docs/screenshots/"
fi
