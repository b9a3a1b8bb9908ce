#!/usr/bin/env bash
# Installs promtool, when missing, from Debian's prometheus package and
# prints where it is as an environment line for the dashboard tests, which
# check the pipeline dashboard's PromQL against a real /metrics capture:
#
#   TASKPULSE_PROMTOOL=/usr/bin/promtool
#
# Usage: deploy/promtool.sh
set -euo pipefail

log() { echo "promtool.sh: $*" >&2; }

if ! command -v promtool >/dev/null; then
	log "installing prometheus (for promtool) from apt"
	sudo=""
	[[ "$(id -u)" == 0 ]] || sudo="sudo"
	$sudo apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends prometheus >&2
	# The package starts a Prometheus server of its own; the tests need only
	# the binary.
	$sudo systemctl disable --now prometheus >/dev/null 2>&1 || $sudo service prometheus stop >/dev/null 2>&1 || true
fi

PROMTOOL="$(command -v promtool)"
log "ready: $("$PROMTOOL" --version 2>&1 | head -n 1)"
echo "TASKPULSE_PROMTOOL=$PROMTOOL"
