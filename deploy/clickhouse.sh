#!/usr/bin/env bash
# Starts, stops and reports on ClickHouse for development and CI: one server
# by default, or a cluster of shards and replicas.
#
# The server is Debian's clickhouse-server (18.16), installed from apt when
# missing. It runs as a plain background process, not a systemd unit, so the
# same script works in containers and CI runners without an init system. Its
# configuration, data and logs live in one directory, so several checkouts can
# run their own servers on different ports and `rm -rf` resets everything.
#
# Usage: deploy/clickhouse.sh start|stop|status [--shards N --replicas M]
#        deploy/clickhouse.sh kill|restart NODE --shards N --replicas M
#
# With more than one server (--shards 2 --replicas 2 for the usual shape)
# the script runs N x M servers on loopback, coordinated by the ZooKeeper
# of deploy/zookeeper.sh, which it starts and stops with them (the
# TASKPULSE_ZOOKEEPER_* variables apply). Node k (1-based) is replica
# (k-1)%M+1 of shard (k-1)/M+1; its native port is TASKPULSE_CLICKHOUSE_PORT
# + 3(k-1), its HTTP port the next and its interserver (replication) port
# the one after, its state in TASKPULSE_CLICKHOUSE_DIR/node-k. Every server
# knows the cluster as `taskpulse` in remote_servers, with
# internal_replication (a Distributed table writes each row to one replica
# of its shard, and replication copies it), has the macros {cluster},
# {shard} and {replica}, runs ON CLUSTER queries and has load_balancing
# in_order in its default profile. `kill NODE` sends SIGKILL to one
# server; `restart NODE` starts it again. The cluster's defaults keep away
# from the single server's ports and directory, so both can run at once.
#
# Environment:
#   TASKPULSE_CLICKHOUSE_DIR        state directory (default /tmp/taskpulse-clickhouse,
#                                   or /tmp/taskpulse-clickhouse-cluster for a cluster)
#   TASKPULSE_CLICKHOUSE_PORT       native protocol port of the first server
#                                   (default 9000, or 29000 for a cluster)
#   TASKPULSE_CLICKHOUSE_HTTP_PORT  HTTP port of a single server (default 8123)
#   TASKPULSE_CLICKHOUSE_WAIT       seconds to wait for a server to answer (default 60)
set -euo pipefail

SHARDS=1
REPLICAS=1
ARGS=()
while (($#)); do
	case "$1" in
	--shards) SHARDS="${2:-}" && shift 2 ;;
	--shards=*) SHARDS="${1#--shards=}" && shift ;;
	--replicas) REPLICAS="${2:-}" && shift 2 ;;
	--replicas=*) REPLICAS="${1#--replicas=}" && shift ;;
	*) ARGS+=("$1") && shift ;;
	esac
done
set -- "${ARGS[@]}"
if ! [[ "$SHARDS" =~ ^[1-9][0-9]*$ && "$REPLICAS" =~ ^[1-9][0-9]*$ ]]; then
	echo "clickhouse.sh: --shards and --replicas want positive numbers" >&2
	exit 2
fi
NODES=$((SHARDS * REPLICAS))

if ((NODES > 1)); then
	DIR="${TASKPULSE_CLICKHOUSE_DIR:-/tmp/taskpulse-clickhouse-cluster}"
	PORT="${TASKPULSE_CLICKHOUSE_PORT:-29000}"
else
	DIR="${TASKPULSE_CLICKHOUSE_DIR:-/tmp/taskpulse-clickhouse}"
	PORT="${TASKPULSE_CLICKHOUSE_PORT:-9000}"
fi
HTTP_PORT="${TASKPULSE_CLICKHOUSE_HTTP_PORT:-8123}"
WAIT="${TASKPULSE_CLICKHOUSE_WAIT:-60}"
PIDFILE="$DIR/clickhouse.pid"

log() { echo "clickhouse.sh${_TASKPULSE_CLICKHOUSE_NODE:+ node $_TASKPULSE_CLICKHOUSE_NODE}: $*" >&2; }

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

# A cluster is this script run once per server, each with its own
# directory and ports, plus config.d/cluster.xml, which ClickHouse merges
# into the config.xml beside it.
node_port() { echo $((PORT + 3 * ($1 - 1))); }

zookeeper() { bash "$(dirname "${BASH_SOURCE[0]}")/zookeeper.sh" "$@"; }

zookeeper_addr() { zookeeper status | sed -n 's/^TASKPULSE_ZOOKEEPER_ADDR=//p'; }

node() {
	local k="$1"
	shift
	local port
	port="$(node_port "$k")"
	TASKPULSE_CLICKHOUSE_DIR="$DIR/node-$k" TASKPULSE_CLICKHOUSE_PORT="$port" \
		TASKPULSE_CLICKHOUSE_HTTP_PORT=$((port + 1)) TASKPULSE_CLICKHOUSE_WAIT="$WAIT" \
		_TASKPULSE_CLICKHOUSE_NODE="$k" bash "${BASH_SOURCE[0]}" "$@"
}

# write_cluster_config writes what makes node k a member of the cluster:
# the servers of every shard, ZooKeeper, its macros, its interserver port
# (replicas fetch parts from each other over HTTP, so each needs its own)
# and the ZooKeeper queue of ON CLUSTER queries. Caches are small: the
# servers share the machine.
write_cluster_config() {
	local k="$1" zk_host="${2%:*}" zk_port="${2##*:}" s r shards=""
	for ((s = 1; s <= SHARDS; s++)); do
		shards+="            <shard>
                <internal_replication>true</internal_replication>
"
		for ((r = 1; r <= REPLICAS; r++)); do
			shards+="                <replica><host>127.0.0.1</host><port>$(node_port $(((s - 1) * REPLICAS + r)))</port></replica>
"
		done
		shards+="            </shard>
"
	done
	mkdir -p "$DIR/node-$k/config.d"
	cat >"$DIR/node-$k/config.d/cluster.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <interserver_http_port>$(($(node_port "$k") + 2))</interserver_http_port>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <remote_servers>
        <taskpulse>
$shards        </taskpulse>
    </remote_servers>
    <zookeeper>
        <node><host>$zk_host</host><port>$zk_port</port></node>
        <session_timeout_ms>10000</session_timeout_ms>
    </zookeeper>
    <macros>
        <cluster>taskpulse</cluster>
        <shard>$(((k - 1) / REPLICAS + 1))</shard>
        <replica>replica$(((k - 1) % REPLICAS + 1))</replica>
    </macros>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
</yandex>
EOF
	# A Distributed table sends an insert to a replica of each shard by
	# the session's load_balancing, which clickhouse-go cannot send to
	# 18.16 (schema/clickhouse/CLUSTER.md): in_order from the profile sends
	# inserts where the store's reads go, the first live replica.
	mkdir -p "$DIR/node-$k/users.d"
	cat >"$DIR/node-$k/users.d/cluster.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <load_balancing>in_order</load_balancing>
        </default>
    </profiles>
</yandex>
EOF
}

# each runs a command on every server at once and fails if any failed.
each() {
	local k pids=() failed=0
	for ((k = 1; k <= NODES; k++)); do
		node "$k" "$@" >/dev/null &
		pids+=($!)
	done
	for k in "${pids[@]}"; do
		wait "$k" || failed=1
	done
	return "$failed"
}

addrs_line() {
	local k addrs=()
	for ((k = 1; k <= NODES; k++)); do
		addrs+=("127.0.0.1:$(node_port "$k")")
	done
	(IFS=, && echo "TASKPULSE_CLICKHOUSE_CLUSTER_ADDRS=${addrs[*]}")
}

node_number() {
	if ! [[ "${1:-}" =~ ^[1-9][0-9]*$ ]] || (($1 > NODES)); then
		log "want a node number from 1 to $NODES"
		exit 2
	fi
}

cluster() {
	case "${1:-}" in
	start)
		install_if_missing
		zookeeper start >/dev/null
		local k zk
		zk="$(zookeeper_addr)"
		for ((k = 1; k <= NODES; k++)); do
			write_cluster_config "$k" "$zk"
		done
		each start
		log "cluster of $SHARDS shards x $REPLICAS replicas ready, named taskpulse"
		addrs_line
		;;
	stop)
		each stop
		zookeeper stop
		;;
	status)
		local k out rc=0
		for ((k = 1; k <= NODES; k++)); do
			out="$(node "$k" status)" || rc=1
			echo "node $k: ${out%%$'\n'*}"
		done
		out="$(zookeeper status)" || rc=1
		echo "zookeeper: ${out%%$'\n'*}"
		((rc == 0)) && addrs_line
		return "$rc"
		;;
	kill)
		node_number "${2:-}"
		local pid
		pid="$(cat "$DIR/node-$2/clickhouse.pid" 2>/dev/null || true)"
		if [[ -z "$pid" ]] || ! grep -q clickhouse "/proc/$pid/cmdline" 2>/dev/null; then
			log "node $2 is not running"
			exit 1
		fi
		kill -9 "$pid"
		while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
		log "node $2 (pid $pid) killed"
		;;
	restart)
		node_number "${2:-}"
		node "$2" stop
		node "$2" start >/dev/null
		;;
	*)
		echo "usage: $0 start|stop|status --shards N --replicas M | kill|restart NODE --shards N --replicas M" >&2
		exit 2
		;;
	esac
}

if ((NODES > 1)); then
	cluster "$@"
	exit
fi

# shellcheck source=deploy/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/server.sh"
