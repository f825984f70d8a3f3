#!/usr/bin/env bash
# Installs everything Chrysalis needs on a Debian machine. Idempotent and quick when warm.
#   scripts/setup.sh          what the desktop app and the CLI need
#   scripts/setup.sh --test   plus what the test suite needs (UI test drivers, servers,
#                             cross-check tools)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

# --- Debian packages -------------------------------------------------------------------
pkgs=(build-essential pkg-config curl ca-certificates git libssl-dev
      libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev)
if [ $want_tests -eq 1 ]; then
  # Xvfb and WebKit's WebDriver for the end-to-end test of the real app; python3 + pip for
  # Kubo's core library (CID cross-checks); python3-venv for the libtorch backend's wheel.
  pkgs+=(xvfb xauth webkit2gtk-driver python3 python3-pip python3-venv)
fi
apt_install "${pkgs[@]}"

# --- Node.js (Vite 7 needs 20.19+) -----------------------------------------------------
if ! command -v node >/dev/null; then apt_install nodejs npm; fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "Node.js $(node --version) is too old: install Node.js 20 or newer (e.g. from nodesource) and rerun"

# --- Rust (rust-toolchain.toml pins 1.95.0; rustup installs it on first use) -------------
command -v cargo >/dev/null || die "Rust is not installed: install rustup (https://rustup.rs), then rerun"
(cd "$ROOT" && cargo --version >/dev/null)

# --- Front end ----------------------------------------------------------------------------
npm_ci "$ROOT/ui"

if [ $want_tests -eq 1 ]; then
  [ -f "$ROOT/tests/e2e/package-lock.json" ] && npm_ci "$ROOT/tests/e2e"
  [ -f "$ROOT/tools/arlocal/package-lock.json" ] && npm_config_nodedir=/usr npm_ci_cached "$ROOT/tools/arlocal"
  [ -x "$ROOT/crates/storage/tests/crosscheck/setup.sh" ] && "$ROOT/crates/storage/tests/crosscheck/setup.sh"
  # tauri-driver bridges WebDriver to WebKitWebDriver; installed from crates.io into a
  # fixed folder beside the build cache.
  if ! command -v tauri-driver >/dev/null && [ ! -x "$CARGO_TARGET_DIR/../bin/bin/tauri-driver" ]; then
    say "installing tauri-driver"
    cargo install tauri-driver --locked --root "$CARGO_TARGET_DIR/../bin"
  fi
fi
say "setup done"
