#!/usr/bin/env bash
# Starts, stops and reports on a standalone Apache ZooKeeper on loopback,
# the coordination service of a ClickHouse cluster (deploy/clickhouse.sh
# start --shards N --replicas M starts it).
#
# ZooKeeper comes from its Maven Central jars (org.apache.zookeeper:zookeeper
# and its runtime dependencies), resolved by mvn as deploy/kafka.sh does, and
# runs on the machine's Java 17 as a plain background process, its
# configuration, data and log in one directory. Stopping it for a while and
# starting it again keeps its data: replicated ClickHouse tables find their
# metadata where they left it.
#
# Usage: deploy/zookeeper.sh start|stop|status
#
# Environment:
#   TASKPULSE_ZOOKEEPER_VERSION  ZooKeeper version (default 3.9.3)
#   TASKPULSE_ZOOKEEPER_DIR      state directory (default /tmp/taskpulse-zookeeper)
#   TASKPULSE_ZOOKEEPER_PORT     client port (default 29181)
#   TASKPULSE_ZOOKEEPER_CACHE    jar cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/taskpulse/zookeeper-VERSION)
#   TASKPULSE_ZOOKEEPER_HEAP     JVM heap (default 128m)
#   TASKPULSE_ZOOKEEPER_WAIT     seconds to wait for it to answer (default 60)
set -euo pipefail

VERSION="${TASKPULSE_ZOOKEEPER_VERSION:-3.9.3}"
DIR="${TASKPULSE_ZOOKEEPER_DIR:-/tmp/taskpulse-zookeeper}"
PORT="${TASKPULSE_ZOOKEEPER_PORT:-29181}"
CACHE="${TASKPULSE_ZOOKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/taskpulse/zookeeper-$VERSION}"
HEAP="${TASKPULSE_ZOOKEEPER_HEAP:-128m}"
WAIT="${TASKPULSE_ZOOKEEPER_WAIT:-60}"
# Libraries of ZooKeeper's own distribution that its pom leaves to the
# application: the SLF4J binding (Logback, for its SLF4J 1.7), the metrics
# library of its default metrics provider and Snappy, which its snapshot
# code loads even when snapshots are not compressed.
LOGBACK_VERSION=1.2.13
METRICS_VERSION=4.1.12.1
SNAPPY_VERSION=1.1.10.5
PIDFILE="$DIR/zookeeper.pid"
LOGFILE="$DIR/server.log"

log() { echo "zookeeper.sh: $*" >&2; }

# The server's jars and those of its own distribution that its pom leaves
# to the application.
JARS=(
	"org.apache.zookeeper:zookeeper:$VERSION"
	"ch.qos.logback:logback-classic:$LOGBACK_VERSION"
	"io.dropwizard.metrics:metrics-core:$METRICS_VERSION"
	"org.xerial.snappy:snappy-java:$SNAPPY_VERSION"
)
# shellcheck source=deploy/java.sh
source "$(dirname "${BASH_SOURCE[0]}")/java.sh"


# write_config writes a standalone server on loopback. The admin server
# (an HTTP port of its own) is off; srvr is the one four-letter command
# allowed, for the readiness check.
write_config() {
	mkdir -p "$DIR/data"
	cat >"$DIR/zoo.cfg" <<EOF
tickTime=2000
dataDir=$DIR/data
clientPort=$PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=srvr
autopurge.purgeInterval=1
EOF
	cat >"$DIR/logback.xml" <<EOF
<configuration>
  <appender name="out" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>[%d] %p %m [%c]%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="out"/></root>
</configuration>
EOF
}

running_pid() {
	[[ -f "$PIDFILE" ]] || return 1
	local pid
	pid="$(cat "$PIDFILE")"
	# A stale pid file may name a pid that now belongs to another process.
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'QuorumPeerMain' && echo "$pid"
}

# answers means the server serves requests, not only that the port is
# open: srvr reports an error until the database is loaded.
answers() {
	local reply
	reply="$(exec 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$PORT" && echo srvr >&3 && timeout 2 cat <&3)" || return 1
	[[ "$reply" == *"Mode: standalone"* ]]
}

start() {
	local pid
	if pid="$(running_pid)"; then
		log "already running (pid $pid)"
	else
		if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
			log "127.0.0.1:$PORT is taken by another process; set TASKPULSE_ZOOKEEPER_PORT"
			exit 1
		fi
		resolve_jars zookeeper "${JARS[@]}"
		write_config
		pid="$(start_detached java -Xms32m -Xmx"$HEAP" -Djava.awt.headless=true \
			-Dlogback.configurationFile="$DIR/logback.xml" -Dzookeeper.jmx.log4j.disable=true \
			-cp "$CACHE/libs/*" org.apache.zookeeper.server.quorum.QuorumPeerMain "$DIR/zoo.cfg")"
		log "started ZooKeeper $VERSION (pid $pid), log in $LOGFILE"
	fi
	await "$pid" answers
	env_line
}

healthy() { answers; }
describe() { echo "ZooKeeper $VERSION on 127.0.0.1:$PORT"; }
env_line() { echo "TASKPULSE_ZOOKEEPER_ADDR=127.0.0.1:$PORT"; }

# shellcheck source=deploy/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/server.sh"
