# moto for the test scripts (sourced by tests/run and tests/arm64/run).
#
# Needs VENV (the virtualenv with moto), ROOT (the repository) and WORK (a scratch folder) set;
# start_moto sets MOTO_PID and exports LEDGERFORCE_MOTO_ENDPOINT, stop_moto ends it.
# shellcheck shell=bash

free_port() {
  "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

moto_answers() {
  "$VENV/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1)' "$1" 2>/dev/null
}

# Starts moto on 127.0.0.1 only. A port taken between choosing and binding is retried.
start_moto() {
  local attempt port url
  if [[ ! -x "$VENV/bin/moto_server" ]]; then
    echo "moto_server is not installed (setup failed)" >&2
    return 1
  fi
  for attempt in 1 2 3; do
    port="$(free_port)" || return 1
    url="http://127.0.0.1:${port}"
    # tests/moto_server.py: moto with atomic DynamoDB item writes, as DynamoDB has them.
    "$VENV/bin/python" "$ROOT/tests/moto_server.py" -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
    MOTO_PID=$!
    for _ in $(seq 1 150); do
      if ! kill -0 "$MOTO_PID" 2>/dev/null; then
        break
      fi
      if moto_answers "$url"; then
        export LEDGERFORCE_MOTO_ENDPOINT="$url"
        echo "moto ${MOTO_VERSION:-} is up at $url (pid $MOTO_PID)"
        return 0
      fi
      sleep 0.1
    done
    kill "$MOTO_PID" 2>/dev/null
    wait "$MOTO_PID" 2>/dev/null
    MOTO_PID=""
    echo "moto did not come up on port $port (attempt $attempt):" >&2
    tail -n 20 "$WORK/moto.log" >&2
  done
  return 1
}

# Stops the moto start_moto started, if it still runs.
stop_moto() {
  if [[ -n "${MOTO_PID:-}" ]] && kill -0 "$MOTO_PID" 2>/dev/null; then
    kill "$MOTO_PID" 2>/dev/null
    wait "$MOTO_PID" 2>/dev/null
  fi
  MOTO_PID=""
}
