#!/usr/bin/env bash
# Starts `ledgerforce sandbox salesforce` and runs check.mjs against it with jsforce.
#
# Usage: tests/interop/jsforce/run.sh [path/to/ledgerforce]
# The binary defaults to $LEDGERFORCE_BIN, else ${CARGO_TARGET_DIR:-<repo>/target}/debug/ledgerforce.
# Needs node >= 20; runs `npm ci` first when node_modules is missing (the npm registry must be
# reachable then; afterwards the check runs offline).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
bin="${1:-${LEDGERFORCE_BIN:-${CARGO_TARGET_DIR:-$repo/target}/debug/ledgerforce}}"
if [[ ! -x "$bin" ]]; then
  echo "ledgerforce binary not found at $bin (build it with: cargo build -p ledgerforce)" >&2
  exit 1
fi

cd "$here"
if [[ ! -d node_modules/jsforce ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

log="$(mktemp)"
"$bin" sandbox salesforce --port 0 --seed demo --records 2500 >"$log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

base=""
key=""
for _ in $(seq 1 300); do
  base="$(sed -n 's/^ *instance URL: *//p' "$log" | head -n1)"
  key="$(sed -n 's/^ *JWT private key: *//p' "$log" | head -n1)"
  if [[ -n "$base" && -n "$key" ]]; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "the sandbox exited before it was ready:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ -z "$base" || -z "$key" ]]; then
  echo "the sandbox did not print its URL and key within 30 s:" >&2
  cat "$log" >&2
  exit 1
fi

echo "sandbox at $base"
node check.mjs "$base" "$key"
