#!/usr/bin/env bash
# Starts, stops and reports on Apache Kafka for development and CI, on
# loopback only: one node by default, or a cluster of several.
#
# Kafka comes from its Maven Central jars (org.apache.kafka:kafka_2.13 and
# its runtime dependencies), resolved by mvn from a small generated pom, so
# the only registry needed is Maven Central and the only runtime is the
# machine's Java 17. The jars are cached per version between runs. Each
# node runs in KRaft mode as broker and controller in one JVM, as a plain
# background process, with its configuration, data and log in one
# directory, so `rm -rf` of that directory resets everything.
#
# Usage: deploy/kafka.sh start|stop|status [--brokers N]
#        deploy/kafka.sh kill|restart NODE --brokers N
#
# With --brokers N (N > 1) the script runs a cluster of N nodes, all of
# them controllers of one KRaft quorum, so it survives the loss of any
# minority. Node i (1-based) listens on TASKPULSE_KAFKA_PORT + 2(i-1), its
# controller on the next port, and keeps its state in TASKPULSE_KAFKA_DIR/
# node-i (pid in kafka.pid, log in server.log). Internal topics and topics
# created without settings get 3 replicas (at most N) and
# min.insync.replicas=2. `kill NODE` sends SIGKILL to one node, as a crash
# would; `restart NODE` starts it again (stopping it first if it runs) and
# waits until it is up. The cluster's defaults keep away from the single
# node's port and directory, so both can run at once.
#
# Environment:
#   TASKPULSE_KAFKA_VERSION          Kafka version (default 4.4.0)
#   TASKPULSE_KAFKA_DIR              state directory (default /tmp/taskpulse-kafka,
#                                    or /tmp/taskpulse-kafka-cluster with --brokers)
#   TASKPULSE_KAFKA_PORT             client port of the first node (default 9092,
#                                    or 29092 with --brokers)
#   TASKPULSE_KAFKA_CONTROLLER_PORT  KRaft controller port (default client port + 1)
#   TASKPULSE_KAFKA_CACHE            jar cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/taskpulse/kafka-VERSION)
#   TASKPULSE_KAFKA_HEAP             JVM heap per node (default 512m, or 384m with --brokers)
#   TASKPULSE_KAFKA_WAIT             seconds to wait for a node to start (default 120)
set -euo pipefail

BROKERS=1
ARGS=()
while (($#)); do
	case "$1" in
	--brokers) BROKERS="${2:-}" && shift 2 ;;
	--brokers=*) BROKERS="${1#--brokers=}" && shift ;;
	*) ARGS+=("$1") && shift ;;
	esac
done
set -- "${ARGS[@]}"
if ! [[ "$BROKERS" =~ ^[1-9][0-9]*$ ]]; then
	echo "kafka.sh: --brokers wants a positive number" >&2
	exit 2
fi

VERSION="${TASKPULSE_KAFKA_VERSION:-4.4.0}"
if ((BROKERS > 1)); then
	DIR="${TASKPULSE_KAFKA_DIR:-/tmp/taskpulse-kafka-cluster}"
	PORT="${TASKPULSE_KAFKA_PORT:-29092}"
	HEAP="${TASKPULSE_KAFKA_HEAP:-384m}"
else
	DIR="${TASKPULSE_KAFKA_DIR:-/tmp/taskpulse-kafka}"
	PORT="${TASKPULSE_KAFKA_PORT:-9092}"
	HEAP="${TASKPULSE_KAFKA_HEAP:-512m}"
fi
CONTROLLER_PORT="${TASKPULSE_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
CACHE="${TASKPULSE_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/taskpulse/kafka-$VERSION}"
WAIT="${TASKPULSE_KAFKA_WAIT:-120}"
# A cluster runs this script once per node with these set; alone, the node
# is the whole quorum and keeps one replica of everything.
NODE_ID="${_TASKPULSE_KAFKA_NODE_ID:-1}"
QUORUM="${_TASKPULSE_KAFKA_QUORUM:-1@127.0.0.1:$CONTROLLER_PORT}"
REPLICAS="${_TASKPULSE_KAFKA_REPLICAS:-1}"
MIN_ISR=$((REPLICAS > 1 ? 2 : 1))
# Logging libraries of the broker's own distribution: Kafka 4 logs through
# SLF4J to Log4j 2, and its pom leaves the binding to the application.
LOG4J_VERSION=2.25.3
SLF4J_VERSION=2.0.17

# The JVM runs the broker and the storage tool alike. A modest heap is
# plenty for development traffic and leaves the machine's memory to the
# services under test.
JAVA=(java -Xms128m -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
	-Djava.awt.headless=true -Dlog4j2.configurationFile="$DIR/log4j2.properties"
	-cp "$CACHE/libs/*")

PIDFILE="$DIR/kafka.pid"
LOGFILE="$DIR/server.log"

log() { echo "kafka.sh${_TASKPULSE_KAFKA_NODE_ID:+ node $_TASKPULSE_KAFKA_NODE_ID}: $*" >&2; }

# The server's jars and those of its own distribution that its pom leaves
# to the application.
JARS=(
	"org.apache.kafka:kafka_2.13:$VERSION"
	"org.slf4j:slf4j-api:$SLF4J_VERSION"
	"org.apache.logging.log4j:log4j-slf4j2-impl:$LOG4J_VERSION"
	"org.apache.logging.log4j:log4j-core:$LOG4J_VERSION"
)
# shellcheck source=deploy/java.sh
source "$(dirname "${BASH_SOURCE[0]}")/java.sh"


# write_config writes a KRaft node that is both broker and controller,
# listening on loopback only, sized for a 2-core development machine. The
# internal topics get few partitions, so the first consumer group does not
# wait for 50 offset partitions to be created, and a new group starts at
# once instead of after the usual 3 s rebalance delay. Alone, a node keeps
# one replica of everything; in a cluster, up to three, of which two must
# hold a record before acks=all is answered.
write_config() {
	mkdir -p "$DIR/data"
	cat >"$DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.voters=$QUORUM
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DIR/data
num.network.threads=2
num.io.threads=4
num.partitions=6
default.replication.factor=$REPLICAS
min.insync.replicas=$MIN_ISR
auto.create.topics.enable=false
offsets.topic.replication.factor=$REPLICAS
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$REPLICAS
transaction.state.log.min.isr=$MIN_ISR
share.coordinator.state.topic.replication.factor=$REPLICAS
share.coordinator.state.topic.min.isr=$MIN_ISR
group.initial.rebalance.delay.ms=0
log.retention.hours=24
EOF
	# Warnings only, plus the line that says the node has started, which
	# ready() waits for: at INFO a restart logs thousands of lines.
	cat >"$DIR/log4j2.properties" <<EOF
rootLogger.level=WARN
rootLogger.appenderRef.out.ref=out
appender.out.type=Console
appender.out.name=out
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
logger.server.name=kafka.server.KafkaRaftServer
logger.server.level=INFO
EOF
}

random_cluster_id() { "${JAVA[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1; }

# format_storage writes the cluster id and KRaft metadata into an empty
# data directory; a formatted one is left as it is, so data survives
# restarts.
format_storage() {
	if [[ -f "$DIR/data/meta.properties" ]]; then
		return
	fi
	local id="${_TASKPULSE_KAFKA_CLUSTER_ID:-}"
	[[ -n "$id" ]] || id="$(random_cluster_id)"
	log "formatting $DIR/data for cluster $id"
	"${JAVA[@]}" kafka.tools.StorageTool format -t "$id" -c "$DIR/server.properties" >"$DIR/format.log" 2>&1 || {
		cat "$DIR/format.log" >&2
		exit 1
	}
}

running_pid() {
	[[ -f "$PIDFILE" ]] || return 1
	local pid
	pid="$(cat "$PIDFILE")"
	# A stale pid file may name a pid that now belongs to another process.
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' && echo "$pid"
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

# ready means the port answers and the node has finished starting: the
# socket opens before the broker has joined its own controller quorum.
ready() { answers && grep -q 'Kafka Server started' "$LOGFILE" 2>/dev/null; }

start() {
	local pid
	if pid="$(running_pid)"; then
		log "already running (pid $pid)"
	else
		if answers; then
			log "127.0.0.1:$PORT is taken by another process; set TASKPULSE_KAFKA_PORT"
			exit 1
		fi
		resolve_jars kafka "${JARS[@]}"
		write_config
		format_storage
		pid="$(start_detached java -Xms128m -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
			-Djava.awt.headless=true \
			-Dlog4j2.configurationFile="$DIR/log4j2.properties" \
			-cp "$CACHE/libs/*" kafka.Kafka "$DIR/server.properties")"
		log "started Kafka $VERSION (pid $pid), log in $LOGFILE"
	fi
	await "$pid" ready
	echo "TASKPULSE_KAFKA_BROKERS=127.0.0.1:$PORT"
}

healthy() { ready; }
describe() { echo "Kafka $VERSION on 127.0.0.1:$PORT"; }
env_line() { echo "TASKPULSE_KAFKA_BROKERS=127.0.0.1:$PORT"; }

# A cluster is this script run once per node, each with its own directory,
# ports, node id and the shared quorum and cluster id.
node_port() { echo $((PORT + 2 * ($1 - 1))); }

quorum() {
	local i voters=()
	for ((i = 1; i <= BROKERS; i++)); do
		voters+=("$i@127.0.0.1:$(($(node_port "$i") + 1))")
	done
	(IFS=, && echo "${voters[*]}")
}

brokers_line() {
	local i addrs=()
	for ((i = 1; i <= BROKERS; i++)); do
		addrs+=("127.0.0.1:$(node_port "$i")")
	done
	(IFS=, && echo "TASKPULSE_KAFKA_BROKERS=${addrs[*]}")
}

node() {
	local i="$1"
	shift
	local port
	port="$(node_port "$i")"
	TASKPULSE_KAFKA_DIR="$DIR/node-$i" TASKPULSE_KAFKA_PORT="$port" \
		TASKPULSE_KAFKA_CONTROLLER_PORT=$((port + 1)) TASKPULSE_KAFKA_HEAP="$HEAP" \
		TASKPULSE_KAFKA_CACHE="$CACHE" TASKPULSE_KAFKA_VERSION="$VERSION" TASKPULSE_KAFKA_WAIT="$WAIT" \
		_TASKPULSE_KAFKA_NODE_ID="$i" _TASKPULSE_KAFKA_QUORUM="$(quorum)" \
		_TASKPULSE_KAFKA_REPLICAS=$((BROKERS < 3 ? BROKERS : 3)) \
		_TASKPULSE_KAFKA_CLUSTER_ID="$(cat "$DIR/cluster.id" 2>/dev/null || true)" \
		bash "${BASH_SOURCE[0]}" "$@"
}

# each runs a command on every node at once and fails if any node failed:
# a node of a new quorum cannot finish starting until a majority runs.
each() {
	local i pids=() failed=0
	for ((i = 1; i <= BROKERS; i++)); do
		node "$i" "$@" >/dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || failed=1
	done
	return "$failed"
}

node_number() {
	if ! [[ "${1:-}" =~ ^[1-9][0-9]*$ ]] || (($1 > BROKERS)); then
		log "want a node number from 1 to $BROKERS"
		exit 2
	fi
}

cluster() {
	case "${1:-}" in
	start)
		resolve_jars kafka "${JARS[@]}"
		mkdir -p "$DIR"
		[[ -s "$DIR/cluster.id" ]] || random_cluster_id >"$DIR/cluster.id"
		each start
		log "cluster of $BROKERS ready"
		brokers_line
		;;
	stop) each stop ;;
	status)
		local i out rc=0
		for ((i = 1; i <= BROKERS; i++)); do
			out="$(node "$i" status)" || rc=1
			echo "node $i: ${out%%$'\n'*}"
		done
		((rc == 0)) && brokers_line
		return "$rc"
		;;
	kill)
		node_number "${2:-}"
		local pidfile="$DIR/node-$2/kafka.pid" pid
		pid="$(cat "$pidfile" 2>/dev/null || true)"
		if [[ -z "$pid" ]] || ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'; then
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
		echo "usage: $0 start|stop|status --brokers N | kill|restart NODE --brokers N" >&2
		exit 2
		;;
	esac
}

if ((BROKERS > 1)); then
	cluster "$@"
	exit
fi

# shellcheck source=deploy/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/server.sh"
