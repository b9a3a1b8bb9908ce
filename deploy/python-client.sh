#!/usr/bin/env bash
# Tests the Python client (clients/python) against a real server: makes a
# virtual environment under the package (clients/python/.venv, or $VENV),
# installs the package with its test extras, builds the taskpulse binary
# from this repository and runs pytest, whose fixture starts that binary
# on free loopback ports. Extra arguments go to pytest.
#
# Usage: deploy/python-client.sh [PYTEST_ARGS...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PKG="$ROOT/clients/python"
VENV="${VENV:-$PKG/.venv}"
PYTHON="${PYTHON:-python3}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

log() { echo "python-client.sh: $*" >&2; }

if [[ ! -x "$VENV/bin/python" ]]; then
	log "making $VENV"
	"$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet "$PKG[test]"

BIN="$(mktemp -d)"
trap 'rm -rf "$BIN"' EXIT
log "building the server"
(cd "$ROOT" && go build -o "$BIN/taskpulse" ./cmd/taskpulse)

cd "$PKG"
TASKPULSE_BINARY="$BIN/taskpulse" "$VENV/bin/python" -m pytest -q "$@"
