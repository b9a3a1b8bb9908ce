#!/usr/bin/env bash
# Installs the OpenTelemetry clients the OTLP tests send with, when
# missing, and prints where they are as environment lines for the tests:
#
#   TASKPULSE_TELEMETRYGEN=<cache>/telemetrygen-VERSION/bin/telemetrygen
#   TASKPULSE_OTEL_PYTHON=<cache>/otel-python-VERSION/bin/python
#
# telemetrygen (the OpenTelemetry Collector's load generator) is built with
# `go install` from the Go module proxy into its own cache directory, from
# its own module: its dependencies never enter this repository's go.mod.
# The Python SDK and its OTLP/HTTP exporters come from PyPI into a virtual
# environment, pinned.
#
# Usage: deploy/otel-clients.sh
#
# Environment:
#   TASKPULSE_TELEMETRYGEN_VERSION  telemetrygen module version (default v0.161.0)
#   TASKPULSE_OTEL_PYTHON_VERSION   opentelemetry-sdk and exporter version (default 1.45.2)
#   TASKPULSE_OTEL_CACHE            cache directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/taskpulse)
set -euo pipefail

GEN_VERSION="${TASKPULSE_TELEMETRYGEN_VERSION:-v0.161.0}"
PY_VERSION="${TASKPULSE_OTEL_PYTHON_VERSION:-1.45.2}"
CACHE="${TASKPULSE_OTEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/taskpulse}"
GEN_DIR="$CACHE/telemetrygen-$GEN_VERSION"
PY_DIR="$CACHE/otel-python-$PY_VERSION"
PYTHON="${PYTHON:-python3}"
# telemetrygen may need a newer Go than the one installed.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

log() { echo "otel-clients.sh: $*" >&2; }

# Each marker is written last, so an interrupted install is done again.
if [[ ! -f "$GEN_DIR/.complete" ]]; then
	log "building telemetrygen@$GEN_VERSION into $GEN_DIR"
	rm -rf "$GEN_DIR"
	mkdir -p "$GEN_DIR/bin"
	GOBIN="$GEN_DIR/bin" go install "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$GEN_VERSION" >&2
	touch "$GEN_DIR/.complete"
fi

if [[ ! -f "$PY_DIR/.complete" ]]; then
	log "installing opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http $PY_VERSION into $PY_DIR"
	rm -rf "$PY_DIR"
	"$PYTHON" -m venv "$PY_DIR"
	"$PY_DIR/bin/pip" install --quiet --disable-pip-version-check \
		"opentelemetry-sdk==$PY_VERSION" "opentelemetry-exporter-otlp-proto-http==$PY_VERSION" >&2
	touch "$PY_DIR/.complete"
fi

log "ready: telemetrygen $GEN_VERSION, OpenTelemetry Python $PY_VERSION"
echo "TASKPULSE_TELEMETRYGEN=$GEN_DIR/bin/telemetrygen"
echo "TASKPULSE_OTEL_PYTHON=$PY_DIR/bin/python"
