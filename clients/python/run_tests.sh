#!/usr/bin/env bash
# Installs the Python client into a virtual environment and runs its tests against the real
# `dxsim serve` binary (built beforehand with `cargo build`).
#
#   clients/python/run_tests.sh [PYTEST ARGS...]
#
# Environment: DXSIM_BIN (default: debug/dxsim under $CARGO_TARGET_DIR, else under target/ in the repository root), PYTHON (default:
# python3), DXSIM_PY_VENV (default: target/python-venv under the repository root).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
venv="${DXSIM_PY_VENV:-$root/target/python-venv}"
export DXSIM_BIN="${DXSIM_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/dxsim}"

if [ ! -x "$DXSIM_BIN" ]; then
    echo "error: no dxsim binary at $DXSIM_BIN" >&2
    echo "hint: run \`cargo build\` in $root first, or set DXSIM_BIN" >&2
    exit 2
fi

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$here" pytest
cd "$here"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider tests "$@"
