#!/usr/bin/env bash
# Installs what the live page's browser test needs, when missing, and prints
# where it is as environment lines for the test:
#
#   TASKPULSE_CHROMIUM=/usr/bin/chromium
#   TASKPULSE_PLAYWRIGHT=<cache>/node_modules
#
# The browser is Debian's chromium, from apt. playwright-core (the driver
# without browsers) and axe-core (the accessibility checker the UI test
# runs in each page) come from npm into a cache directory, pinned. The
# driver is never allowed to download a browser of its own: the test
# launches the Debian binary by path. Node.js must already be on the machine.
#
# Usage: deploy/browser.sh
#
# Environment:
#   TASKPULSE_PLAYWRIGHT_VERSION  playwright-core version (default 1.65.1)
#   TASKPULSE_AXE_VERSION         axe-core version (default 4.14.1)
#   TASKPULSE_PLAYWRIGHT_CACHE    npm prefix (default ${XDG_CACHE_HOME:-$HOME/.cache}/taskpulse/playwright-VERSION-axe-AXE_VERSION)
set -euo pipefail

VERSION="${TASKPULSE_PLAYWRIGHT_VERSION:-1.65.1}"
AXE_VERSION="${TASKPULSE_AXE_VERSION:-4.14.1}"
CACHE="${TASKPULSE_PLAYWRIGHT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/taskpulse/playwright-$VERSION-axe-$AXE_VERSION}"
CHROMIUM=/usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

log() { echo "browser.sh: $*" >&2; }

if [[ ! -x "$CHROMIUM" ]]; then
	log "installing chromium from apt"
	sudo=""
	[[ "$(id -u)" == 0 ]] || sudo="sudo"
	$sudo apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >&2
fi

command -v node >/dev/null || { log "node is required (apt-get install nodejs npm)"; exit 1; }
# The marker is written last, so an interrupted install is done again.
if [[ ! -f "$CACHE/.complete" ]]; then
	log "installing playwright-core@$VERSION and axe-core@$AXE_VERSION into $CACHE"
	rm -rf "$CACHE"
	mkdir -p "$CACHE"
	npm install --prefix "$CACHE" --no-audit --no-fund --loglevel=error "playwright-core@$VERSION" "axe-core@$AXE_VERSION" >&2
	touch "$CACHE/.complete"
fi

log "ready: $("$CHROMIUM" --version 2>/dev/null | head -n 1), playwright-core $VERSION, axe-core $AXE_VERSION"
echo "TASKPULSE_CHROMIUM=$CHROMIUM"
echo "TASKPULSE_PLAYWRIGHT=$CACHE/node_modules"
