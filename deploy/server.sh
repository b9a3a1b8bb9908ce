# Shared by kafka.sh and clickhouse.sh, which source it after defining
# log, running_pid, healthy, start, describe and env_line, and PIDFILE.

stop() {
	local pid
	if ! pid="$(running_pid)"; then
		log "not running"
		rm -f "$PIDFILE"
		return
	fi
	kill "$pid"
	# A clean shutdown flushes and closes the server's files, so the next
	# start skips recovery; give it time before KILL.
	for _ in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid still alive after 30s; sending KILL"
		kill -9 "$pid"
	fi
	rm -f "$PIDFILE"
	log "stopped"
}

status() {
	local pid
	if pid="$(running_pid)" && healthy; then
		echo "running (pid $pid) $(describe)"
		env_line
	elif [[ -n "${pid:-}" ]]; then
		echo "starting or unhealthy (pid $pid)"
		exit 1
	else
		echo "stopped"
		exit 3
	fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*)
	echo "usage: $0 start|stop|status" >&2
	exit 2
	;;
esac
