#!/usr/bin/env bash
# Interop check: the official Sage Intacct SDK for JavaScript against `ledgerforce sandbox intacct`.
#
#   tests/interop/intacct-sdk/run.sh
#
# Uses $LEDGERFORCE_BIN when set, else builds the CLI with cargo (honouring CARGO_TARGET_DIR).
# Installs the pinned SDK with `npm ci`, starts the sandbox on a free loopback port with the
# demo data, runs check.mjs, and stops the sandbox. Exits non-zero when any check fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"

if [[ -z "${LEDGERFORCE_BIN:-}" ]]; then
  (cd "$root" && cargo build --quiet -p ledgerforce)
  LEDGERFORCE_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/ledgerforce"
fi
[[ -x "$LEDGERFORCE_BIN" ]] || { echo "intacct-sdk interop: no ledgerforce binary at $LEDGERFORCE_BIN" >&2; exit 1; }

if [[ ! -d "$here/node_modules/@intacct/intacct-sdk" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

log="$(mktemp)"
"$LEDGERFORCE_BIN" sandbox intacct --port 0 --seed demo >"$log" 2>&1 &
sandbox_pid=$!
cleanup() {
  kill "$sandbox_pid" 2>/dev/null || true
  wait "$sandbox_pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

endpoint=""
for _ in $(seq 1 100); do
  endpoint="$(sed -n 's/^endpoint: //p' "$log")"
  [[ -n "$endpoint" ]] && break
  if ! kill -0 "$sandbox_pid" 2>/dev/null; then
    echo "intacct-sdk interop: the sandbox exited early:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
[[ -n "$endpoint" ]] || { echo "intacct-sdk interop: no endpoint line from the sandbox" >&2; cat "$log" >&2; exit 1; }
port="${endpoint#http://127.0.0.1:}"
port="${port%%/*}"
field() { sed -n "s/^$1: //p" "$log"; }

# The SDK only accepts *.intacct.com endpoints; loopback-dns.mjs resolves this name to 127.0.0.1.
export INTACCT_ENDPOINT_URL="http://ledgerforce-sandbox.intacct.com:${port}/ia/xml/xmlgw.phtml"
export INTACCT_SENDER_ID="$(field 'sender id')"
export INTACCT_SENDER_PASSWORD="$(field 'sender password')"
export INTACCT_COMPANY_ID="$(field 'company id')"
export INTACCT_USER_ID="$(field 'user id')"
export INTACCT_USER_PASSWORD="$(field 'user password')"

cd "$here"
node --import ./loopback-dns.mjs check.mjs
