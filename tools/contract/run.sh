#!/usr/bin/env bash
# Fuzzes `dxsim serve` against its own OpenAPI document with schemathesis (the version pinned in
# requirements.txt), on loopback: once with bearer tokens and once in `--open` mode. Every check
# schemathesis has runs, bounded in examples and time; any finding fails the script.
#
#   tools/contract/run.sh            # uses target/debug/dxsim (run `cargo build` first)
#   DXSIM_BIN=path/to/dxsim tools/contract/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${DXSIM_BIN:-$root/target/debug/dxsim}"
examples="${CONTRACT_EXAMPLES:-20}"
max_time="${CONTRACT_MAX_TIME:-360}"

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r "$here/requirements.txt"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  # A fuzzer that gave up may leave slow requests in flight; the server is not waited for.
  [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# Starts the server with the given extra arguments; sets `server_pid` and `base`. It serves one
# specialty's cases, so the discrete tables a vector env needs are learnt in seconds even in a debug
# build; a selection the fuzzer makes that matches none of them is a 422 the config allows.
start_server() {
  DXSIM_TOKENS="fuzzer=fuzzer-secret-1" "$bin" serve --bind 127.0.0.1:0 --memory-store \
    --cases specialty=allergy_immunology --max-vector-count 32 --max-episodes 1000000 \
    --max-episodes-per-token 1000000 "$@" \
    >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  for _ in $(seq 1 300); do
    base="$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$work/server.out" | head -n 1 || true)"
    [ -n "$base" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.err" >&2; exit 1; }
    sleep 0.1
  done
  echo "the server did not say where it listens" >&2
  cat "$work/server.err" >&2
  exit 1
}

stop_server() {
  kill -9 "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# Runs schemathesis against the running server; extra arguments are passed on.
fuzz() {
  # From the scratch directory: schemathesis keeps a cache of failures where it runs.
  (cd "$work" && st --config-file "$here/schemathesis.toml" run "$base/v1/openapi.json" \
    --checks all --max-examples "$examples" --max-time "$max_time" \
    --generation-deterministic --workers 2 --request-timeout 120 "$@")
}

echo "== with bearer tokens"
start_server
fuzz --header "Authorization: Bearer fuzzer-secret-1"
stop_server

echo "== open mode"
start_server --open
fuzz
stop_server
