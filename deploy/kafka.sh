#!/usr/bin/env bash
# Starts, stops and reports on a single-node Apache Kafka for development and
# CI, on loopback only.
#
# Kafka comes from its Maven Central jars (org.apache.kafka:kafka_2.13 and
# its runtime dependencies), resolved by mvn from a small generated pom, so
# the only registry needed is Maven Central and the only runtime is the
# machine's Java 17. The jars are cached per version between runs. The
# server runs in KRaft mode as broker and controller in one JVM, as a plain
# background process, with its configuration, data and log in one
# directory, so `rm -rf` of that directory resets everything.
#
# Usage: deploy/kafka.sh start|stop|status
#
# Environment:
#   TASKPULSE_KAFKA_VERSION          Kafka version (default 4.4.0)
#   TASKPULSE_KAFKA_DIR              state directory (default /tmp/taskpulse-kafka)
#   TASKPULSE_KAFKA_PORT             client port (default 9092)
#   TASKPULSE_KAFKA_CONTROLLER_PORT  KRaft controller port (default client port + 1)
#   TASKPULSE_KAFKA_CACHE            jar cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/taskpulse/kafka-VERSION)
#   TASKPULSE_KAFKA_HEAP             JVM heap (default 512m)
#   TASKPULSE_KAFKA_WAIT             seconds to wait for the broker to start (default 120)
set -euo pipefail

VERSION="${TASKPULSE_KAFKA_VERSION:-4.4.0}"
DIR="${TASKPULSE_KAFKA_DIR:-/tmp/taskpulse-kafka}"
PORT="${TASKPULSE_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${TASKPULSE_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
CACHE="${TASKPULSE_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/taskpulse/kafka-$VERSION}"
HEAP="${TASKPULSE_KAFKA_HEAP:-512m}"
WAIT="${TASKPULSE_KAFKA_WAIT:-120}"
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

log() { echo "kafka.sh: $*" >&2; }

# resolve_jars copies Kafka and its runtime dependencies into $CACHE/libs
# once per version. The copy lands in a temporary folder first, so an
# interrupted download is never mistaken for a complete one.
resolve_jars() {
	if [[ -f "$CACHE/libs/.complete" ]]; then
		return
	fi
	command -v mvn >/dev/null || { log "mvn is required (apt-get install maven)"; exit 1; }
	mkdir -p "$CACHE"
	cat >"$CACHE/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.taskpulse</groupId>
  <artifactId>kafka-server-jars</artifactId>
  <version>$VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$SLF4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
	log "resolving Kafka $VERSION jars from Maven Central into $CACHE"
	rm -rf "$CACHE/libs.tmp"
	mvn -q -B -f "$CACHE/pom.xml" dependency:copy-dependencies \
		-Dstyle.color=never -DincludeScope=runtime -DoutputDirectory="$CACHE/libs.tmp" >&2
	touch "$CACHE/libs.tmp/.complete"
	rm -rf "$CACHE/libs"
	mv "$CACHE/libs.tmp" "$CACHE/libs"
}

# write_config writes a KRaft node that is both broker and controller,
# listening on loopback only, sized for a 2-core development machine. The
# internal topics get one replica and few partitions, so the first consumer
# group does not wait for 50 offset partitions to be created, and a new
# group starts at once instead of after the usual 3 s rebalance delay.
write_config() {
	mkdir -p "$DIR/data"
	cat >"$DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DIR/data
num.network.threads=2
num.io.threads=4
num.partitions=6
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
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

# format_storage writes the cluster id and KRaft metadata into an empty
# data directory; a formatted one is left as it is, so data survives
# restarts.
format_storage() {
	if [[ -f "$DIR/data/meta.properties" ]]; then
		return
	fi
	local id
	id="$("${JAVA[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
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
		resolve_jars
		write_config
		format_storage
		# setsid detaches the server from this shell's process group, so
		# the caller's exit or Ctrl-C does not take it down. setsid may
		# fork, so the server writes its own pid, which exec keeps.
		rm -f "$PIDFILE"
		setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" \
			java -Xms128m -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
			-Djava.awt.headless=true \
			-Dlog4j2.configurationFile="$DIR/log4j2.properties" \
			-cp "$CACHE/libs/*" kafka.Kafka "$DIR/server.properties" \
			>"$LOGFILE" 2>&1 </dev/null &
		for _ in $(seq 1 100); do
			[[ -s "$PIDFILE" ]] && break
			sleep 0.1
		done
		pid="$(cat "$PIDFILE")"
		log "started Kafka $VERSION (pid $pid), log in $LOGFILE"
	fi
	local deadline=$((SECONDS + WAIT))
	until ready; do
		# The process itself, not running_pid: its command line is
		# briefly unreadable while it execs into java.
		if ! kill -0 "$pid" 2>/dev/null; then
			log "server exited; last log lines:"
			tail -n 30 "$LOGFILE" >&2 || true
			exit 1
		fi
		if ((SECONDS >= deadline)); then
			log "server did not start within ${WAIT}s; see $LOGFILE"
			exit 1
		fi
		sleep 0.5
	done
	log "ready on 127.0.0.1:$PORT"
	echo "TASKPULSE_KAFKA_BROKERS=127.0.0.1:$PORT"
}

healthy() { ready; }
describe() { echo "Kafka $VERSION on 127.0.0.1:$PORT"; }
env_line() { echo "TASKPULSE_KAFKA_BROKERS=127.0.0.1:$PORT"; }

# shellcheck source=deploy/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/server.sh"
