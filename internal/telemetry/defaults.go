package telemetry

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Defaults returns what a service was given to log, count and trace with,
// and for what it was not: a logger that discards, a registry of its own
// (so that tests can make many services) and a tracer provider that
// records nothing.
func Defaults(log *slog.Logger, reg prometheus.Registerer, tp trace.TracerProvider) (*slog.Logger, prometheus.Registerer, trace.TracerProvider) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return log, reg, tp
}
