package ingest

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// discardSpans is an exporter that drops what it is given, so that the
// benchmark measures making the spans rather than sending them.
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

// BenchmarkPostTraced is BenchmarkPost with tracing on, as when an OTLP
// endpoint is configured: every request carries a traceparent, makes a
// span that goes to a batch processor, and puts its context on every
// record. Beside BenchmarkPost it gives the price of tracing.
func BenchmarkPostTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardSpans{}))
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	traced := map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	runPosts(b, benchServer(b, Deps{TracerProvider: tp}), progressPosts(traced))
}
