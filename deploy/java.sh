# Sourced by kafka.sh and zookeeper.sh, which run Java servers from their
# jars on Maven Central. The sourcing script defines log, CACHE, PIDFILE,
# LOGFILE and WAIT.

# resolve_jars NAME GROUP:ARTIFACT:VERSION... copies the runtime closure of
# the artifacts into $CACHE/libs, once per cache, installing Maven from apt
# when it is missing. The copy lands in a temporary folder first, so an
# interrupted download is never mistaken for a complete one.
resolve_jars() {
	if [[ -f "$CACHE/libs/.complete" ]]; then
		return
	fi
	if ! command -v mvn >/dev/null; then
		log "installing maven from apt"
		local sudo=""
		[[ "$(id -u)" == 0 ]] || sudo="sudo"
		$sudo apt-get update -q >&2
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q maven >&2
	fi
	local name=$1 dep group artifact version
	shift
	mkdir -p "$CACHE"
	{
		printf '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
		printf '  <modelVersion>4.0.0</modelVersion>\n  <groupId>dev.taskpulse</groupId>\n'
		printf '  <artifactId>%s-jars</artifactId>\n  <version>1</version>\n  <packaging>pom</packaging>\n' "$name"
		printf '  <dependencies>\n'
		for dep in "$@"; do
			IFS=: read -r group artifact version <<<"$dep"
			printf '    <dependency><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version></dependency>\n' "$group" "$artifact" "$version"
		done
		printf '  </dependencies>\n</project>\n'
	} >"$CACHE/pom.xml"
	log "resolving $name jars from Maven Central into $CACHE"
	rm -rf "$CACHE/libs.tmp"
	mvn -q -B -f "$CACHE/pom.xml" dependency:copy-dependencies \
		-Dstyle.color=never -DincludeScope=runtime -DoutputDirectory="$CACHE/libs.tmp" >&2
	touch "$CACHE/libs.tmp/.complete"
	rm -rf "$CACHE/libs"
	mv "$CACHE/libs.tmp" "$CACHE/libs"
}

# start_detached COMMAND... starts the server in the background, detached
# by setsid from this shell's process group, so the caller's exit or Ctrl-C
# does not take it down, and prints its pid. setsid may fork, so the
# server writes its own pid, which exec keeps.
start_detached() {
	rm -f "$PIDFILE"
	setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" "$@" >"$LOGFILE" 2>&1 </dev/null &
	for _ in $(seq 1 100); do
		[[ -s "$PIDFILE" ]] && break
		sleep 0.1
	done
	cat "$PIDFILE"
}

# await PID CHECK waits until CHECK succeeds, failing with the log's tail
# when the process PID exits first or WAIT seconds pass. It watches the
# process itself, not the pid file's owner: its command line is briefly
# unreadable while it execs into java.
await() {
	local pid=$1 check=$2 deadline=$((SECONDS + WAIT))
	until "$check"; do
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
}
