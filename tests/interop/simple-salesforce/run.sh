#!/usr/bin/env bash
# Starts `ledgerforce sandbox salesforce --tls` and runs check.py against it with simple-salesforce.
#
# Usage: tests/interop/simple-salesforce/run.sh [path/to/ledgerforce]
# The binary defaults to $LEDGERFORCE_BIN, else ${CARGO_TARGET_DIR:-<repo>/target}/debug/ledgerforce.
# Python: the virtualenv $LEDGERFORCE_VENV, else <repo>/.venv (the one tests/run makes), created
# if missing; the pinned requirements.txt is installed into it when its simple-salesforce is not
# the pinned one (PyPI must be reachable then; afterwards the check runs offline).
# The client talks HTTPS to 127.0.0.1 and trusts only the certificate the sandbox prints.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
bin="${1:-${LEDGERFORCE_BIN:-${CARGO_TARGET_DIR:-$repo/target}/debug/ledgerforce}}"
if [[ ! -x "$bin" ]]; then
  echo "ledgerforce binary not found at $bin (build it with: cargo build -p ledgerforce)" >&2
  exit 1
fi

venv="${LEDGERFORCE_VENV:-$repo/.venv}"
if [[ ! -x "$venv/bin/python" ]]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
pinned="$(sed -n 's/^simple-salesforce==//p' "$here/requirements.txt")"
installed="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("simple-salesforce"))' 2>/dev/null || true)"
if [[ "$installed" != "$pinned" ]]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi

work="$(mktemp -d)"
log="$work/sandbox.log"
"$bin" sandbox salesforce --port 0 --seed demo --records 2500 --tls \
  --key-file "$work/jwt-key.pem" --tls-cert-file "$work/tls-ca.pem" >"$log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

field() { sed -n "s/^ *$1: *//p" "$log" | head -n1; }
base=""
cert=""
for _ in $(seq 1 300); do
  base="$(field 'instance URL')"
  cert="$(field 'TLS certificate')"
  if [[ -n "$base" && -n "$cert" ]]; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "the sandbox exited before it was ready:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ -z "$base" || -z "$cert" ]]; then
  echo "the sandbox did not print its URL and certificate within 30 s:" >&2
  cat "$log" >&2
  exit 1
fi
username="$(field username)"
password="$(field password)"
token="$(field 'security token' | cut -d' ' -f1)"

echo "sandbox at $base (CA $cert)"
REQUESTS_CA_BUNDLE="$cert" "$venv/bin/python" "$here/check.py" "$base" "$username" "$password" "$token"
