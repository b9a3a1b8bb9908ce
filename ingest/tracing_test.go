package ingest

import (
	"context"
	"github.com/taskpulse/taskpulse/ingest/internal/ingesttest"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskpulse/taskpulse/ingest/writer"
	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/telemetry"
	"github.com/taskpulse/taskpulse/schema"
)

// tracedPipeline is ingest and a writer over a real embedded bus and a
// real DuckDB store, both recording their spans in spans.
type tracedPipeline struct {
	spans  *tracetest.InMemoryExporter
	app    *fiber.App
	ingest *ingestApp // reads records back from the bus
	writer *writer.Writer
}

func newTracedPipeline(t *testing.T) *tracedPipeline {
	t.Helper()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	b, st := ingesttest.OpenPipeline(t)
	svc, err := New(Config{}, Deps{Bus: b, TracerProvider: tp})
	require.NoError(t, err)
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler, DisableStartupMessage: true})
	svc.Routes(app.Group("", auth.Keys{}.Middleware()))
	w, err := writer.New(writer.Config{}, writer.Deps{Bus: b, Store: st, TracerProvider: tp})
	require.NoError(t, err)
	return &tracedPipeline{spans: spans, app: app, ingest: &ingestApp{app: app, bus: b}, writer: w}
}

// postTraced posts body to path with a traceparent header, when one is
// given, and requires a 202.
func postTraced(t *testing.T, app *fiber.App, path, contentType, traceparent, body string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	resp, err := app.Test(req, -1)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, fiber.StatusAccepted, resp.StatusCode)
}

// spanNamed is the one span of that name, failing the test unless there
// is exactly one.
func spanNamed(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			found = append(found, s)
		}
	}
	require.Len(t, found, 1, "spans named %q", name)
	return found[0]
}

func spanAttrs(kvs []attribute.KeyValue) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestTraceCrossesBusToWriter(t *testing.T) {
	f := func(path, contentType, topic, body string, n int) {
		t.Run(topic, func(t *testing.T) {
			p := newTracedPipeline(t)
			traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
			clientSpan, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
			postTraced(t, p.app, path, contentType, "00-"+traceID.String()+"-"+clientSpan.String()+"-01", body)

			post := spanNamed(t, p.spans.GetSpans(), "POST "+path)
			require.Equal(t, traceID, post.SpanContext.TraceID(), "the request continues the client's trace")
			require.Equal(t, clientSpan, post.Parent.SpanID())
			require.True(t, post.Parent.IsRemote())
			require.Equal(t, trace.SpanKindServer, post.SpanKind)
			require.Equal(t, int64(fiber.StatusAccepted), spanAttrs(post.Attributes)["http.response.status_code"].AsInt64())

			// Every record carries the request's span across the bus.
			recs := p.ingest.records(t, topic, n)
			for _, rec := range recs {
				sc := telemetry.HeadersSpanContext(rec.Headers)
				require.Equal(t, traceID, sc.TraceID())
				require.Equal(t, post.SpanContext.SpanID(), sc.SpanID())
				require.True(t, sc.IsSampled())
				require.Equal(t, auth.DefaultTenant, rec.Headers[schema.HeaderTenant])
			}

			// The insert that stores them links back to that span.
			p.spans.Reset()
			require.NoError(t, p.writer.Handle(context.Background(), recs))
			store := spanNamed(t, p.spans.GetSpans(), "writer.store")
			a := spanAttrs(store.Attributes)
			require.Equal(t, topic, a["topic"].AsString())
			require.Equal(t, int64(n), a["rows"].AsInt64())
			require.Len(t, store.Links, 1, "records of one request give one link")
			require.Equal(t, traceID, store.Links[0].SpanContext.TraceID())
			require.Equal(t, post.SpanContext.SpanID(), store.Links[0].SpanContext.SpanID())
			require.NotEqual(t, traceID, store.SpanContext.TraceID(), "a batch mixes traces, so it starts its own")
		})
	}
	f("/v1/progress", "application/json", schema.TopicProgress,
		`[{"task_id":"job-1","status":"running","progress":10},{"task_id":"job-2","status":"running","progress":20}]`, 2)
	f("/v1/logs", "application/x-ndjson", schema.TopicLogs,
		`{"task_id":"job-1","level":"INFO","message":"started"}`+"\n"+`{"level":"ERROR","message":"disk full","source":"worker-3"}`+"\n", 2)
	f("/v1/metrics", "application/json", schema.TopicMetrics,
		`[{"name":"queue_depth","value":3},{"name":"jobs_total","kind":"counter","value":9},{"name":"jobs_total","kind":"counter","value":10}]`, 3)
}

func TestTraceStartsAtIngestWithoutTraceparent(t *testing.T) {
	p := newTracedPipeline(t)
	postTraced(t, p.app, "/v1/progress", "application/json", "", `{"task_id":"job-1","status":"running"}`)
	post := spanNamed(t, p.spans.GetSpans(), "POST /v1/progress")
	require.False(t, post.Parent.IsValid())
	rec := p.ingest.records(t, schema.TopicProgress, 1)[0]
	require.Equal(t, post.SpanContext.TraceID(), telemetry.HeadersSpanContext(rec.Headers).TraceID())
}

// Without a recording provider ingest makes no spans of its own, but a
// client's trace context still crosses the bus, and a request without one
// adds no header.
func TestTraceContextPassesThroughWithoutRecording(t *testing.T) {
	f := func(traceparent string) {
		t.Helper()
		a := newIngestApp(t)
		postTraced(t, a.app, "/v1/progress", "application/json", traceparent, `{"task_id":"job-1","status":"running"}`)
		rec := a.records(t, schema.TopicProgress, 1)[0]
		require.Equal(t, traceparent, rec.Headers[telemetry.HeaderTraceparent])
	}
	f("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f("")
}
