#!/usr/bin/env bash
# Holds the HTTP API to its OpenAPI document with schemathesis: builds the
# binary, starts the all-in-one server twice on loopback with throw-away
# data directories (once without API keys, once with one key, sent as
# Authorization: Bearer), and runs `schemathesis run` against each with a
# bounded number of examples per operation. A run fails on any 5xx, any
# answer whose status code, Content-Type or body the document does not
# list for that operation, or a server that dies under it.
#
# schemathesis comes from PyPI into a virtualenv cached per version, so
# the only registry needed is PyPI and the only runtime is python3.
#
# Usage: deploy/schemathesis.sh
#
# Environment:
#   TASKPULSE_SCHEMATHESIS_VERSION       schemathesis version (default 4.32.5)
#   TASKPULSE_SCHEMATHESIS_VENV          virtualenv (default ${XDG_CACHE_HOME:-$HOME/.cache}/taskpulse/schemathesis-venv)
#   TASKPULSE_SCHEMATHESIS_MAX_EXAMPLES  most generated cases per operation and phase (default 25)
#   TASKPULSE_SCHEMATHESIS_SEED          random seed (default 1; set "random" for a new one each run)
#   TASKPULSE_SCHEMATHESIS_WAIT          seconds to wait for a server to be ready (default 60)
#   TASKPULSE_SCHEMATHESIS_BINARY        a taskpulse binary to test instead of building ./cmd/taskpulse
#   TASKPULSE_SCHEMATHESIS_REPORT_DIR    where to keep a JUnit report and a HAR log of every
#                                        request of each run (default: none kept)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${TASKPULSE_SCHEMATHESIS_VERSION:-4.32.5}"
VENV="${TASKPULSE_SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/taskpulse/schemathesis-venv}"
MAX_EXAMPLES="${TASKPULSE_SCHEMATHESIS_MAX_EXAMPLES:-25}"
SEED="${TASKPULSE_SCHEMATHESIS_SEED:-1}"
WAIT="${TASKPULSE_SCHEMATHESIS_WAIT:-60}"
REPORT_DIR="${TASKPULSE_SCHEMATHESIS_REPORT_DIR:-}"
BINARY="${TASKPULSE_SCHEMATHESIS_BINARY:-}"
# Keys must be at least 16 characters long.
API_KEY="schemathesis-key-0123456789"
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance

log() { echo "schemathesis.sh: $*" >&2; }

# install_schemathesis (re)creates the virtualenv when it lacks the pinned
# version. A marker written after pip succeeds tells a complete install
# from an interrupted one.
install_schemathesis() {
	if [[ -f "$VENV/.complete-$VERSION" && -x "$VENV/bin/schemathesis" ]]; then
		return
	fi
	log "installing schemathesis $VERSION from PyPI into $VENV"
	rm -rf "$VENV"
	mkdir -p "$(dirname "$VENV")"
	python3 -m venv "$VENV" || { log "python3 with its venv module is required (apt-get install python3-venv)"; exit 1; }
	"$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$VERSION" >&2
	touch "$VENV/.complete-$VERSION"
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/taskpulse-schemathesis.XXXXXX")"
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

# start_server NAME ARGS... starts the binary on a loopback port the kernel
# picks, waits for /readyz, and sets BASE to its URL. The port is read
# from the server's own log line, so no other process can take it between
# choosing and listening.
start_server() {
	local name="$1" pid deadline addr=""
	shift
	mkdir -p "$WORK/$name"
	# The server reads TASKPULSE_* variables as flags; those of the
	# caller (CI exports the Kafka and ClickHouse addresses) are not this
	# server's settings.
	local unset=() var
	for var in $(compgen -e); do
		[[ "$var" == TASKPULSE_* ]] && unset+=(-u "$var")
	done
	env "${unset[@]}" "$WORK/taskpulse" serve --listen 127.0.0.1:0 --data-dir "$WORK/$name/data" \
		--shutdown-grace 5s "$@" >"$WORK/$name/server.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	deadline=$((SECONDS + WAIT))
	while [[ -z "$addr" ]]; do
		if ! kill -0 "$pid" 2>/dev/null || ((SECONDS > deadline)); then
			log "the $name server did not start; its log:"
			cat "$WORK/$name/server.log" >&2
			return 1
		fi
		sleep 0.2
		addr="$(grep -o 'listen=http://127\.0\.0\.1:[0-9]*' "$WORK/$name/server.log" | head -n1 | cut -d= -f2 || true)"
	done
	until curl -fsS -o /dev/null --max-time 2 "$addr/readyz"; do
		if ! kill -0 "$pid" 2>/dev/null || ((SECONDS > deadline)); then
			log "the $name server at $addr is not ready; its log:"
			cat "$WORK/$name/server.log" >&2
			return 1
		fi
		sleep 0.5
	done
	BASE="$addr"
	SERVER_PID="$pid"
	log "the $name server is ready at $BASE (pid $pid)"
}

# fuzz NAME EXTRA-SCHEMATHESIS-ARGS... runs schemathesis against the
# server started as NAME and fails when it fails or the server died.
fuzz() {
	local name="$1" status=0 started=$SECONDS
	shift
	local seed=(--seed "$SEED")
	[[ "$SEED" == random ]] && seed=()
	local report=()
	if [[ -n "$REPORT_DIR" ]]; then
		mkdir -p "$REPORT_DIR"
		report=(--report junit,har --report-junit-path "$(realpath "$REPORT_DIR")/$name.xml"
			--report-har-path "$(realpath "$REPORT_DIR")/$name.har")
	fi
	# The document is the one the server serves, and --url points the
	# requests at this server rather than the document's servers entry.
	# One worker: hypothesis describes its strategies with ast.parse, and
	# two threads parsing at once can fail CPython 3.11's AST recursion
	# check ("AST constructor recursion depth mismatch"). filter_too_much
	# is a check of the generator, not of the API: the negative cases of
	# POST /v1/progress (JSON or NDJSON) trip it.
	local cmd=("$VENV/bin/schemathesis" run "$BASE/openapi.json" --url "$BASE"
		--checks "$CHECKS" --max-examples "$MAX_EXAMPLES" "${seed[@]}" "${report[@]}"
		--workers 1 --request-timeout 30 --generation-database none
		--suppress-health-check filter_too_much
		--no-color --output-truncate true "$@")
	log "run '$name': ${cmd[*]//$API_KEY/KEY}"
	(cd "$WORK" && "${cmd[@]}") || status=$?
	log "run '$name' took $((SECONDS - started))s and exited $status"
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		log "the $name server exited during the run; its log:"
		tail -n 50 "$WORK/$name/server.log" >&2
		status=1
	elif ((status != 0)); then
		log "the $name server's last warnings and errors:"
		grep -E 'level=(WARN|ERROR)' "$WORK/$name/server.log" | tail -n 20 >&2 || true
	fi
	RESULTS+=("$name: $([[ $status == 0 ]] && echo passed || echo FAILED) in $((SECONDS - started))s")
	return "$status"
}

install_schemathesis
if [[ -n "$BINARY" ]]; then
	cp "$BINARY" "$WORK/taskpulse"
else
	log "building the server"
	go build -o "$WORK/taskpulse" ./cmd/taskpulse
fi

failed=()
RESULTS=()
start_server keyless
fuzz keyless || failed+=(keyless)
start_server keyed --api-keys "$API_KEY=schemathesis"
fuzz keyed -H "Authorization: Bearer $API_KEY" || failed+=(keyed)

for line in "${RESULTS[@]}"; do
	log "$line"
done
if ((${#failed[@]})); then
	exit 1
fi
