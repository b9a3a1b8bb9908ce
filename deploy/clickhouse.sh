#!/usr/bin/env bash
# Starts, stops and reports on a ClickHouse server for development and CI.
#
# The server is Debian's clickhouse-server (18.16), installed from apt when
# missing. It runs as a plain background process, not a systemd unit, so the
# same script works in containers and CI runners without an init system. Its
# configuration, data and logs live in one directory, so several checkouts can
# run their own servers on different ports and `rm -rf` resets everything.
#
# Usage: deploy/clickhouse.sh start|stop|status
#
# Environment:
#   TASKPULSE_CLICKHOUSE_DIR        state directory (default /tmp/taskpulse-clickhouse)
#   TASKPULSE_CLICKHOUSE_PORT       native protocol port (default 9000)
#   TASKPULSE_CLICKHOUSE_HTTP_PORT  HTTP port (default 8123)
#   TASKPULSE_CLICKHOUSE_WAIT       seconds to wait for the server to answer (default 60)
set -euo pipefail

DIR="${TASKPULSE_CLICKHOUSE_DIR:-/tmp/taskpulse-clickhouse}"
PORT="${TASKPULSE_CLICKHOUSE_PORT:-9000}"
HTTP_PORT="${TASKPULSE_CLICKHOUSE_HTTP_PORT:-8123}"
WAIT="${TASKPULSE_CLICKHOUSE_WAIT:-60}"
PIDFILE="$DIR/clickhouse.pid"

log() { echo "clickhouse.sh: $*" >&2; }

# The Debian package names its binaries clickhouse-server and
# clickhouse-client; newer upstream packages ship one `clickhouse` binary.
server_cmd() {
	if command -v clickhouse-server >/dev/null 2>&1; then
		echo clickhouse-server
	elif command -v clickhouse >/dev/null 2>&1; then
		echo "clickhouse server"
	fi
}

client() {
	if command -v clickhouse-client >/dev/null 2>&1; then
		clickhouse-client --host 127.0.0.1 --port "$PORT" "$@"
	else
		clickhouse client --host 127.0.0.1 --port "$PORT" "$@"
	fi
}

install_if_missing() {
	if [[ -n "$(server_cmd)" ]] && { command -v clickhouse-client >/dev/null 2>&1 || command -v clickhouse >/dev/null 2>&1; }; then
		return
	fi
	log "installing clickhouse-server and clickhouse-client from apt"
	local sudo=""
	[[ "$(id -u)" == 0 ]] || sudo="sudo"
	$sudo apt-get update -q
	# policy-rc.d may refuse to start the packaged service; we start our own.
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q clickhouse-server clickhouse-client
}

# write_config generates a minimal configuration: loopback only, the ports
# chosen above, everything under $DIR, and a passwordless default user that
# may only connect from loopback.
write_config() {
	mkdir -p "$DIR/data" "$DIR/tmp" "$DIR/user_files" "$DIR/format_schemas" "$DIR/log"
	cat >"$DIR/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$DIR/log/clickhouse-server.log</log>
        <errorlog>$DIR/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$PORT</tcp_port>
    <http_port>$HTTP_PORT</http_port>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$DIR/data/</path>
    <tmp_path>$DIR/tmp/</tmp_path>
    <user_files_path>$DIR/user_files/</user_files_path>
    <format_schema_path>$DIR/format_schemas/</format_schema_path>
    <users_config>$DIR/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
EOF
	cat >"$DIR/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

running_pid() {
	[[ -f "$PIDFILE" ]] || return 1
	local pid
	pid="$(cat "$PIDFILE")"
	# A pid file outliving its server may name a reused pid; only a
	# clickhouse process counts.
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q clickhouse "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

answers() { client --query "SELECT 1" >/dev/null 2>&1; }

start() {
	install_if_missing
	if pid="$(running_pid)"; then
		log "already running (pid $pid)"
	else
		write_config
		# The server refuses to run as root on a data directory owned by
		# someone else, and the packaged clickhouse user may not exist
		# (upstream binaries), so it runs as whoever runs this script.
		local cmd
		cmd="$(server_cmd)"
		# shellcheck disable=SC2086 # cmd may be two words ("clickhouse server").
		nohup $cmd --config-file="$DIR/config.xml" >"$DIR/log/stdout.log" 2>&1 &
		echo $! >"$PIDFILE"
		log "started (pid $!), logs in $DIR/log"
	fi
	pid="$(cat "$PIDFILE")"
	local deadline=$((SECONDS + WAIT))
	until answers; do
		# The process itself, not running_pid: its command line is
		# briefly unreadable while nohup execs into the server.
		if ! kill -0 "$pid" 2>/dev/null; then
			log "server exited; last log lines:"
			tail -n 20 "$DIR/log/clickhouse-server.err.log" "$DIR/log/stdout.log" >&2 2>/dev/null || true
			exit 1
		fi
		if ((SECONDS >= deadline)); then
			log "server did not answer SELECT 1 within ${WAIT}s"
			exit 1
		fi
		sleep 0.5
	done
	log "ready: $(client --query 'SELECT version()')"
	echo "TASKPULSE_CLICKHOUSE_ADDR=127.0.0.1:$PORT"
}

healthy() { answers; }
describe() { echo "$(client --query 'SELECT version()') on 127.0.0.1:$PORT"; }
env_line() { echo "TASKPULSE_CLICKHOUSE_ADDR=127.0.0.1:$PORT"; }

# shellcheck source=deploy/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/server.sh"
