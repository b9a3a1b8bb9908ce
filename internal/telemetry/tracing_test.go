package telemetry

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

func TestOTLPEndpointValidation(t *testing.T) {
	f := func(endpoint string, ok bool) {
		t.Helper()
		err := ValidateEndpoint(endpoint)
		if ok {
			require.NoError(t, err, endpoint)
		} else {
			require.Error(t, err, endpoint)
		}
	}
	f("", true)
	f("http://127.0.0.1:4318", true)
	f("https://collector.example.com/otlp", true)
	f("127.0.0.1:4318", false)
	f("grpc://127.0.0.1:4317", false)
	f("http://", false)
}

func TestTracingWithoutEndpointExportsNothing(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tr, err := NewTracing(context.Background(), TracingConfig{Services: []string{"ingest"}}, nil)
	require.NoError(t, err)
	require.False(t, tr.Exporting())
	_, span := tr.Tracer("test").Start(context.Background(), "x")
	require.False(t, span.IsRecording())
	tr.Shutdown(time.Second)
	require.Contains(t, otel.GetTextMapPropagator().Fields(), "traceparent")
}

func TestTracingEndpointFromEnvironment(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:1/v1/traces")
	tr, err := NewTracing(context.Background(), TracingConfig{}, nil)
	require.NoError(t, err)
	require.True(t, tr.Exporting())
	_, span := tr.Tracer("test").Start(context.Background(), "x")
	require.True(t, span.IsRecording())
	span.End()
	// The collector is not there: the stop gives up at its timeout.
	tr.Shutdown(100 * time.Millisecond)
}

func TestTraceHeadersRoundTrip(t *testing.T) {
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	state, err := trace.ParseTraceState("vendor=abc")
	require.NoError(t, err)
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled, TraceState: state})

	h := map[string]string{"tenant": "acme"}
	InjectHeaders(trace.ContextWithSpanContext(context.Background(), sc), h)
	require.Equal(t, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", h[HeaderTraceparent])
	require.Equal(t, "vendor=abc", h["tracestate"])
	got := HeadersSpanContext(h)
	require.True(t, got.Equal(sc.WithRemote(true)), "%v", got)

	empty := map[string]string{}
	InjectHeaders(context.Background(), empty)
	require.Empty(t, empty, "no span, no headers")
	require.False(t, HeadersSpanContext(empty).IsValid())
	require.False(t, HeadersSpanContext(map[string]string{HeaderTraceparent: "00-zz-yy-01"}).IsValid())
}
