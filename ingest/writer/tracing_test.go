package writer

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/telemetry"
	"github.com/taskpulse/taskpulse/schema"
)

func TestTraceLinksOfABatchAreCapped(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	b, st, _ := openPipeline(t)
	w, err := New(Config{}, Deps{Bus: b, Store: st, TracerProvider: tp})
	require.NoError(t, err)

	var batch []bus.Record
	for i := range 3 * MaxLinks {
		rec := progressRecord(t, fmt.Sprintf("job-%d", i), 1, schema.StatusRunning, 10)
		// Pairs of records share a request's span.
		rec.Headers = map[string]string{telemetry.HeaderTraceparent: fmt.Sprintf("00-%032x-%016x-01", i/2+1, i/2+1)}
		batch = append(batch, rec)
	}
	require.NoError(t, w.Handle(context.Background(), batch))
	got := spans.GetSpans()
	require.Len(t, got, 1)
	store := got[0]
	require.Equal(t, "writer.store", store.Name)
	require.Len(t, store.Links, MaxLinks)
	require.Zero(t, store.DroppedLinks)
	var rows int64
	for _, kv := range store.Attributes {
		if kv.Key == "rows" {
			rows = kv.Value.AsInt64()
		}
	}
	require.Equal(t, int64(len(batch)), rows)
	for i, l := range store.Links {
		require.Equal(t, fmt.Sprintf("%032x", i+1), l.SpanContext.TraceID().String())
	}
}
