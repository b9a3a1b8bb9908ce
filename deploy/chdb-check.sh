#!/usr/bin/env bash
# Runs the ClickHouse migrations and the SQL the store sends on chDB, a
# current in-process ClickHouse, to prove the SQL written for 18.16 also runs
# on current releases (DESIGN.md, section 6).
#
# It also runs the Grafana dashboards' queries on chDB, over the data set
# their tests generated on the server.
#
# Usage: deploy/chdb-check.sh [CAPTURE_FILE [DASHBOARD_FILE]]
#
# CAPTURE_FILE is what the store's tests write when TASKPULSE_SQL_CAPTURE is
# set (default $TMPDIR/taskpulse-sql-capture.jsonl). DASHBOARD_FILE is what
# the dashboards' tests (grafana/) write when TASKPULSE_DASHBOARD_SQL is set
# (default: that variable, else a new temporary file). When either does not
# exist, the script runs those tests to produce it, which needs a server in
# TASKPULSE_CLICKHOUSE_ADDR (deploy/clickhouse.sh start). chDB is installed
# from PyPI into a virtual environment under the cache directory, once.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CAPTURE="${1:-${TMPDIR:-/tmp}/taskpulse-sql-capture.jsonl}"
DASHBOARDS="${2:-${TASKPULSE_DASHBOARD_SQL:-}}"
if [[ -z "$DASHBOARDS" ]]; then
	DASHBOARDS="$(mktemp)"
	trap 'rm -f "$DASHBOARDS"' EXIT
fi
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/taskpulse/chdb-venv"

log() { echo "chdb-check.sh: $*" >&2; }

if ! "$VENV/bin/python" -c "import chdb" >/dev/null 2>&1; then
	log "installing chdb into $VENV"
	mkdir -p "$(dirname "$VENV")"
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install --quiet --upgrade pip
	"$VENV/bin/pip" install --quiet chdb
fi

need_server() {
	if [[ -z "${TASKPULSE_CLICKHOUSE_ADDR:-}" ]]; then
		log "$1 does not exist and TASKPULSE_CLICKHOUSE_ADDR is not set;"
		log "start a server (deploy/clickhouse.sh start) and export TASKPULSE_CLICKHOUSE_ADDR, or pass the file"
		exit 1
	fi
}

if [[ ! -s "$CAPTURE" ]]; then
	need_server "$CAPTURE"
	log "capturing the store's SQL from its tests against $TASKPULSE_CLICKHOUSE_ADDR"
	(cd "$ROOT" && TASKPULSE_SQL_CAPTURE="$CAPTURE" go test -count=1 ./internal/store/clickhouse/)
fi

if [[ ! -s "$DASHBOARDS" ]]; then
	need_server "$DASHBOARDS"
	log "running the dashboards' queries on $TASKPULSE_CLICKHOUSE_ADDR to write them and their data set"
	(cd "$ROOT" && TASKPULSE_DASHBOARD_SQL="$DASHBOARDS" go test -count=1 -run TestPanelQueriesRunOnClickHouse ./grafana/)
fi

"$VENV/bin/python" "$ROOT/deploy/chdb_check.py" "$ROOT/schema/clickhouse" "$CAPTURE" "$DASHBOARDS"
