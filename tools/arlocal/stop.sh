#!/usr/bin/env bash
# Stops the arlocal started by start.sh (by its pid file) and removes its database.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${ARLOCAL_STATE:-$here/.state}"
pidfile="$state/arlocal.pid"

if [[ ! -f "$pidfile" ]]; then
  echo "arlocal is not running (no $pidfile)"
  exit 0
fi
pid="$(cat "$pidfile")"
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  echo "arlocal stopped (pid $pid)"
else
  echo "arlocal was not running (stale pid $pid)"
fi
rm -f "$pidfile"
rm -rf "$state/db"
