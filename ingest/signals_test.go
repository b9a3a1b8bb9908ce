package ingest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/bus/embedded"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/schema"
)

// ingestApp serves the ingest endpoints over a real embedded bus.
type ingestApp struct {
	app *fiber.App
	bus *embedded.Bus
	reg *prometheus.Registry
}

func newIngestApp(t *testing.T) *ingestApp {
	t.Helper()
	b, err := embedded.Open(filepath.Join(t.TempDir(), "bus"), embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	reg := prometheus.NewRegistry()
	svc, err := New(Config{}, Deps{Bus: b, Registerer: reg})
	require.NoError(t, err)
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler, DisableStartupMessage: true})
	svc.Routes(app.Group("", auth.Keys{}.Middleware()))
	return &ingestApp{app: app, bus: b, reg: reg}
}

func (a *ingestApp) post(t *testing.T, path, contentType string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", contentType)
	resp, err := a.app.Test(req, -1)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, raw
}

// records reads n records of topic from the bus.
func (a *ingestApp) records(t *testing.T, topic string, n int) []bus.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var (
		mu  sync.Mutex
		got []bus.Record
	)
	err := a.bus.Consume(ctx, "test-"+topic, []string{topic}, bus.ConsumeOptions{MaxBatch: 1000, MaxWait: time.Millisecond}, func(_ context.Context, batch []bus.Record) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, batch...)
		if len(got) >= n {
			cancel()
		}
		return nil
	})
	require.NoError(t, err)
	require.Len(t, got, n)
	return got
}

func TestPostLogsPublishesStampedRecords(t *testing.T) {
	a := newIngestApp(t)
	status, _, body := a.post(t, "/v1/logs", "application/x-ndjson", []byte(
		`{"task_id":"job-1","level":"INFO","message":"started","event_id":"client-1"}`+"\n"+
			`{"level":"ERROR","message":"disk full","source":"worker-3","timestamp":1700000000000}`+"\n"))
	require.Equal(t, fiber.StatusAccepted, status, string(body))
	var answer struct {
		Accepted int      `json:"accepted"`
		EventIDs []string `json:"event_ids"`
	}
	require.NoError(t, json.Unmarshal(body, &answer))
	require.Equal(t, 2, answer.Accepted)
	require.Equal(t, "client-1", answer.EventIDs[0])

	recs := a.records(t, schema.TopicLogs, 2)
	require.Equal(t, "job-1", string(recs[0].Key), "keyed by task")
	require.Equal(t, "worker-3", string(recs[1].Key), "keyed by source without a task")
	require.Equal(t, auth.DefaultTenant, recs[1].Headers[schema.HeaderTenant])
	l, err := schema.DecodeLog(recs[1].Value)
	require.NoError(t, err)
	require.Equal(t, answer.EventIDs[1], l.EventID)
	require.Equal(t, int64(1_700_000_000_000), l.Timestamp)
	first, err := schema.DecodeLog(recs[0].Value)
	require.NoError(t, err)
	require.Less(t, first.IngestOrder, l.IngestOrder)
	require.Equal(t, 2.0, eventsCount(t, a.reg, "logs", "accepted"))
}

// eventsCount reads taskpulse_ingest_events_total{signal,outcome}.
func eventsCount(t *testing.T, reg *prometheus.Registry, signal, outcome string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range families {
		if mf.GetName() != "taskpulse_ingest_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["signal"] == signal && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestPostMetricsKindsAndKeys(t *testing.T) {
	a := newIngestApp(t)
	status, _, body := a.post(t, "/v1/metrics", "application/json",
		[]byte(`[{"name":"queue_depth","value":3},{"name":"jobs_total","kind":"counter","value":9,"labels":{"q":"a"},"task_id":"job-1"}]`))
	require.Equal(t, fiber.StatusAccepted, status, string(body))
	status, _, body = a.post(t, "/v1/metrics", "text/plain; version=0.0.4; charset=utf-8", []byte("# TYPE up gauge\nup 1\n"))
	require.Equal(t, fiber.StatusAccepted, status, string(body))

	recs := a.records(t, schema.TopicMetrics, 3)
	var kinds []string
	for _, r := range recs {
		m, err := schema.DecodeMetric(r.Value)
		require.NoError(t, err)
		require.Equal(t, m.Name, string(r.Key), "keyed by metric name")
		kinds = append(kinds, string(m.Kind))
	}
	require.Equal(t, []string{"gauge", "counter", "gauge"}, kinds, "kind defaults to gauge")
}

func TestPostSignalsRejects(t *testing.T) {
	a := newIngestApp(t)
	f := func(path, contentType, body string, wantStatus int, wantCode string, want ...schema.FieldError) {
		t.Helper()
		status, _, raw := a.post(t, path, contentType, []byte(body))
		require.Equal(t, wantStatus, status, string(raw))
		var answer struct {
			Error struct {
				Code    string              `json:"code"`
				Details []schema.FieldError `json:"details"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal(raw, &answer), string(raw))
		require.Equal(t, wantCode, answer.Error.Code, string(raw))
		for _, w := range want {
			found := false
			for _, d := range answer.Error.Details {
				found = found || (d.Index == w.Index && d.Field == w.Field && strings.Contains(d.Reason, w.Reason))
			}
			require.True(t, found, "want %+v in %s", w, raw)
		}
	}
	const js, nd, text = "application/json", "application/x-ndjson", "text/plain"
	f("/v1/logs", js, `[{"message":"no level"},{"level":"LOUD","message":"x"},{"level":"INFO"}]`, 400, "validation_failed",
		schema.FieldError{Index: 0, Field: "level", Reason: "required"},
		schema.FieldError{Index: 1, Field: "level", Reason: "must be one of"},
		schema.FieldError{Index: 2, Field: "message", Reason: "required"})
	f("/v1/logs", js, `{"level":"INFO","message":"x","mesage":"typo"}`, 400, "validation_failed", schema.FieldError{Field: "mesage", Reason: "not a known field"})
	f("/v1/logs", js, `{"level":"INFO","message":"x","tenant":"other"}`, 400, "validation_failed", schema.FieldError{Field: "tenant", Reason: "set by the server"})
	f("/v1/logs", nd, "{\"level\":\"INFO\",\"message\":\"x\"}\n{oops\n", 400, "invalid_json", schema.FieldError{Index: 1, Field: "body"})
	f("/v1/logs", text, `{"level":"INFO","message":"x"}`, 415, "unsupported_media_type")
	f("/v1/logs", js, "[{\"level\":\"INFO\",\"message\":\"x\"},{\"level\":\"INFO\",\"message\":\"\xfe\"}]", 400, "invalid_json", schema.FieldError{Index: 1, Field: "body", Reason: "UTF-8"})
	f("/v1/metrics", js, "{\"name\":\"m\",\"value\":1,\"labels\":{\"h\xff\":\"v\"}}", 400, "invalid_json", schema.FieldError{Field: "body", Reason: "UTF-8"})
	f("/v1/metrics", js, `[{"name":"ok","value":1},{"name":"bad name","value":1},{"name":"x","value":"NaN"},{"name":"y","kind":"summary"}]`, 400, "validation_failed",
		schema.FieldError{Index: 1, Field: "name", Reason: "must match"},
		schema.FieldError{Index: 2, Field: "value", Reason: "number"},
		schema.FieldError{Index: 3, Field: "kind", Reason: "must be one of"})
	f("/v1/metrics", nd, `{"value":1}`, 400, "validation_failed", schema.FieldError{Field: "name", Reason: "required"})
	f("/v1/metrics", text, "up 1\nup{ 2\n", 400, "validation_failed", schema.FieldError{Field: "body", Reason: "line 2:"})
	f("/v1/metrics", text, "big +Inf\n", 400, "validation_failed", schema.FieldError{Field: "value", Reason: "(sample of big)"})
	f("/v1/metrics", "text/plain; version=1.0.0", "up 1\n", 415, "unsupported_media_type")
	f("/v1/metrics", "application/xml", "<x/>", 415, "unsupported_media_type")
	f("/v1/otlp/logs", js, `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":9}]}]}]}`, 400, "validation_failed",
		schema.FieldError{Field: "message", Reason: "required (resourceLogs[0].scopeLogs[0].logRecords[0])"})
	f("/v1/otlp/logs", "application/x-protobuf", "\xff\xff", 400, "validation_failed", schema.FieldError{Field: "body", Reason: "protobuf"})
	f("/v1/otlp/metrics", js, `{"resourceMetrics":[`, 400, "invalid_json", schema.FieldError{Field: "body"})
	f("/v1/otlp/metrics", nd, `{}`, 415, "unsupported_media_type")
	require.Equal(t, 9.0, eventsCount(t, a.reg, "logs", "rejected"), "items of rejected requests; a 415 counts none")
}

func TestPostOTLPAnswersInTheRequestEncoding(t *testing.T) {
	a := newIngestApp(t)
	data := testLogsData()
	pb, err := proto.Marshal(data)
	require.NoError(t, err)
	status, header, body := a.post(t, "/v1/otlp/logs", "application/x-protobuf", pb)
	require.Equal(t, fiber.StatusOK, status, string(body))
	require.Equal(t, "application/x-protobuf", header.Get("Content-Type"))
	require.Empty(t, body, "an ExportLogsServiceResponse without partial success")

	status, header, body = a.post(t, "/v1/otlp/metrics", "application/json", otlpJSONOf(t, testMetricsData()))
	require.Equal(t, fiber.StatusOK, status, string(body))
	require.Equal(t, "application/json", header.Get("Content-Type"))
	require.JSONEq(t, `{}`, string(body))

	status, _, _ = a.post(t, "/v1/otlp/logs", "application/json", []byte(`{}`))
	require.Equal(t, fiber.StatusOK, status, "an empty export is answered and publishes nothing")

	logs := a.records(t, schema.TopicLogs, 7)
	require.Equal(t, "job-7", string(logs[0].Key))
	require.Equal(t, "scraper", string(logs[1].Key))
	a.records(t, schema.TopicMetrics, 15)
}
