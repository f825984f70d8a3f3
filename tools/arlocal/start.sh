#!/usr/bin/env bash
# Starts a pinned arlocal (local Arweave gateway) for Chrysalis's Arweave tests, bound to
# 127.0.0.1 only, in the background. Installs it first if needed (npm ci, builds sqlite3
# from source: ~2 min on 2 cores). Waits until /info answers, then prints the URL.
#
#   tools/arlocal/start.sh            # port 1984, or ARLOCAL_PORT
#   tools/arlocal/stop.sh
#
# State (pid file, database, log) lives in ARLOCAL_STATE (default: tools/arlocal/.state).
# Tests read the URL from CHRYSALIS_ARLOCAL_URL (default http://127.0.0.1:1984).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${ARLOCAL_PORT:-1984}"
host="127.0.0.1"
state="${ARLOCAL_STATE:-$here/.state}"
pidfile="$state/arlocal.pid"
log="$state/arlocal.log"
url="http://$host:$port"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "arlocal: node and npm are needed (apt-get install -y nodejs npm)" >&2
  exit 1
fi

mkdir -p "$state"

if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  if curl -fsS "$url/info" >/dev/null 2>&1; then
    echo "arlocal already running at $url (pid $(cat "$pidfile"))"
    exit 0
  fi
fi

if curl -fsS "$url/info" >/dev/null 2>&1; then
  echo "arlocal: something else already answers at $url; stop it or set ARLOCAL_PORT" >&2
  exit 1
fi

if [[ ! -x "$here/node_modules/.bin/arlocal" || ! -f "$here/node_modules/sqlite3/build/Release/node_sqlite3.node" ]]; then
  # node-gyp uses the installed Node headers instead of downloading them.
  if [[ -z "${npm_config_nodedir:-}" ]]; then
    if [[ -f /usr/include/node/node.h ]]; then
      export npm_config_nodedir=/usr
    else
      echo "arlocal: no Node headers in /usr/include/node; node-gyp will try to download them." >&2
      echo "         Offline? Install them first (Debian: apt-get install -y libnode-dev)." >&2
    fi
  fi
  echo "arlocal: installing (npm ci; builds sqlite3 from source)…" >&2
  t0=$(date +%s)
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "arlocal: installed in $(( $(date +%s) - t0 )) s" >&2
fi

# arlocal joins --dbpath onto its working directory and creates that folder, so run it from
# the state folder with a relative path (":memory:" does not work in 1.1.66).
rm -rf "$state/db"
(
  cd "$state"
  ARLOCAL_HOST="$host" nohup node --require "$here/listen-localhost.cjs" \
    "$here/node_modules/arlocal/bin/index.js" "$port" --dbpath db --hidelogs \
    >"$log" 2>&1 &
  echo $! >"$pidfile"
)

for _ in $(seq 1 150); do
  if curl -fsS "$url/info" >/dev/null 2>&1; then
    echo "arlocal running at $url (pid $(cat "$pidfile"), log $log)"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "arlocal exited during start; its log:" >&2
    cat "$log" >&2
    rm -f "$pidfile"
    exit 1
  fi
  sleep 0.2
done
echo "arlocal did not answer $url/info within 30 s; its log:" >&2
cat "$log" >&2
exit 1
