#!/usr/bin/env bash
# Runs govulncheck over the module against a local copy of the Go
# vulnerability database, so that nothing but the Go module proxy is needed
# (vuln.go.dev is never contacted).
#
# The database comes from the module golang.org/x/vulndb, which the proxy
# serves with its OSV entries under data/osv/. deploy/vulndb.go turns them
# into the v1 layout govulncheck reads with -db file://DIR (index/db.json,
# index/modules.json, index/vulns.json, ID/GO-*.json); its index files are
# byte for byte those of the module's own cmd/indexdb, which is not used here
# because building it downloads some 900 MB of modules. The result is kept
# under the cache directory and built again only when the proxy's latest
# vulndb version (or deploy/vulndb.go) changes. When the proxy cannot be
# asked, the last database built is used.
#
# govulncheck is installed once per pinned version into the cache directory.
# On a machine with only Go installed, the first run downloads govulncheck
# and the vulndb module (25 MB), which takes one to two minutes on top of the
# scan; later runs take as long as the scan itself.
#
# The exit status is govulncheck's: 0 when no vulnerability is reached from
# the module's code, 3 when one is, 1 on any other failure.
#
# Usage: deploy/govulncheck.sh [GOVULNCHECK_ARGS...]   (default: ./...)
#
# Environment:
#   TASKPULSE_GOVULNCHECK_VERSION  govulncheck version (default v1.9.0)
#   TASKPULSE_VULNDB_VERSION       golang.org/x/vulndb version (default latest)
#   TASKPULSE_VULNDB_CACHE         cache directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/taskpulse/vulndb)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GOVULNCHECK_VERSION="${TASKPULSE_GOVULNCHECK_VERSION:-v1.9.0}"
VULNDB_VERSION="${TASKPULSE_VULNDB_VERSION:-latest}"
CACHE="${TASKPULSE_VULNDB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/taskpulse/vulndb}"
VULNDB=golang.org/x/vulndb

log() { echo "govulncheck.sh: $*" >&2; }

mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"

# Module look-ups and tool builds run in a scratch module of their own, so
# the project's go.mod and go.sum are never read or written.
SCRATCH="$CACHE/mod"
if [[ ! -f "$SCRATCH/go.mod" ]]; then
	mkdir -p "$SCRATCH"
	printf 'module taskpulse.local/vulndb\n\ngo 1.26\n' >"$SCRATCH/go.mod"
fi
gotool() { (cd "$SCRATCH" && GOWORK=off GOFLAGS= go "$@"); }

# govulncheck, once per version.
GOVULNCHECK="$CACHE/govulncheck-$GOVULNCHECK_VERSION/govulncheck"
if [[ ! -x "$GOVULNCHECK" ]]; then
	log "installing golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
	GOBIN="$(dirname "$GOVULNCHECK")" gotool install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
fi

# The vulndb version to use; without an answer from the proxy, the last one
# built. The database is named after it and the generator's checksum.
version=""
if ! version="$(gotool list -m -f '{{.Version}}' "$VULNDB@$VULNDB_VERSION")" || [[ -z "$version" ]]; then
	version="$(cat "$CACHE/current" 2>/dev/null || true)"
	if [[ -z "$version" || ! -f "$CACHE/db-$version/index/db.json" ]]; then
		log "cannot resolve $VULNDB@$VULNDB_VERSION on the module proxy and no database is cached"
		exit 1
	fi
	log "cannot resolve $VULNDB@$VULNDB_VERSION on the module proxy; using the cached database"
else
	version="$version-$(cksum <"$ROOT/deploy/vulndb.go" | cut -d' ' -f1)"
fi
DB="$CACHE/db-$version"

if [[ ! -f "$DB/index/db.json" ]]; then
	module_version="${version%-*}"
	log "building the database from $VULNDB@$module_version into $DB"
	gotool mod download "$VULNDB@$module_version"
	src="$(gotool list -m -f '{{.Dir}}' "$VULNDB@$module_version")"
	if [[ -z "$src" || ! -d "$src/data/osv" ]]; then
		log "$VULNDB@$module_version has no data/osv directory"
		exit 1
	fi
	tmp="$(mktemp -d "$CACHE/build.XXXXXX")"
	trap 'rm -rf "$tmp"' EXIT
	gotool build -o "$tmp/vulndb" "$ROOT/deploy/vulndb.go"
	"$tmp/vulndb" -vulns "$src/data/osv" -out "$tmp/db"
	# A finished database appears under its final name in one rename.
	[[ -e "$DB" ]] || mv "$tmp/db" "$DB"
	rm -rf "$tmp"
	trap - EXIT
fi
if [[ "$(cat "$CACHE/current" 2>/dev/null || true)" != "$version" ]]; then
	echo "$version" >"$CACHE/current"
	for old in "$CACHE"/db-*; do
		[[ "$old" == "$DB" ]] || rm -rf "$old"
	done
fi

log "govulncheck $GOVULNCHECK_VERSION, database $VULNDB@${version%-*} ($(find "$DB/ID" -name '*.json' | wc -l) entries)"
[[ $# -gt 0 ]] || set -- ./...
cd "$ROOT"
exec "$GOVULNCHECK" -db "file://$DB" "$@"
