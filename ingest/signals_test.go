package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/taskpulse/taskpulse/ingest/internal/ingesttest"
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
	status, _, body := a.post(t, "/v1/logs?event_ids=true", "application/x-ndjson", []byte(
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

// TestAcceptedListsEventIDsWhenAsked posts to every route that answers
// 202: the answer counts the items, and lists their event ids, in the
// order the bus holds them, only when the client asks with event_ids=true.
func TestAcceptedListsEventIDsWhenAsked(t *testing.T) {
	routes := []struct {
		name, path, contentType, topic, body string
		n                                    int
	}{
		{"progress", "/v1/progress", "application/json", schema.TopicProgress,
			`[{"task_id":"t","status":"running","event_id":"client-1"},{"task_id":"t","status":"completed"}]`, 2},
		{"logs", "/v1/logs", "application/x-ndjson", schema.TopicLogs,
			`{"level":"INFO","message":"a"}` + "\n" + `{"level":"INFO","message":"b","event_id":"client-1"}` + "\n", 2},
		{"metrics", "/v1/metrics", "application/json", schema.TopicMetrics,
			`[{"name":"a","value":1,"event_id":"client-1"},{"name":"b","value":2},{"name":"c","value":3}]`, 3},
		{"metrics as Prometheus text", "/v1/metrics", "text/plain; version=0.0.4", schema.TopicMetrics, "up 1\ndown 0\n", 2},
	}
	eventIDs := func(t *testing.T, topic string, recs []bus.Record) []string {
		ids := make([]string, len(recs))
		for i, r := range recs {
			var stamped struct {
				EventID string `json:"event_id"`
			}
			require.NoError(t, json.Unmarshal(r.Value, &stamped), topic)
			ids[i] = stamped.EventID
		}
		return ids
	}
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			a := newIngestApp(t)
			f := func(query, want string) {
				t.Helper()
				status, _, body := a.post(t, r.path+query, r.contentType, []byte(r.body))
				require.Equal(t, fiber.StatusAccepted, status, string(body))
				require.JSONEq(t, want, string(body))
			}
			count := fmt.Sprintf(`{"accepted":%d}`, r.n)
			f("", count)
			f("?event_ids=false", count)
			status, _, body := a.post(t, r.path+"?event_ids=true", r.contentType, []byte(r.body))
			require.Equal(t, fiber.StatusAccepted, status, string(body))
			var answer struct {
				Accepted int      `json:"accepted"`
				EventIDs []string `json:"event_ids"`
			}
			require.NoError(t, json.Unmarshal(body, &answer))
			require.Equal(t, r.n, answer.Accepted)
			recs := a.records(t, r.topic, 3*r.n)
			require.Equal(t, eventIDs(t, r.topic, recs[2*r.n:]), answer.EventIDs)
			if strings.Contains(r.body, "client-1") {
				require.Contains(t, answer.EventIDs, "client-1", "a client's event id is kept")
			}
			seen := map[string]bool{}
			for _, id := range answer.EventIDs {
				require.False(t, seen[id], "event id %s given twice", id)
				seen[id] = true
				if id != "client-1" {
					require.Equal(t, uuid.Version(7), uuid.MustParse(id).Version(), id)
				}
			}
		})
	}
	a := newIngestApp(t)
	f := func(path, contentType, body, wantField string) {
		t.Helper()
		status, _, raw := a.post(t, path, contentType, []byte(body))
		require.Equal(t, fiber.StatusBadRequest, status, string(raw))
		require.Contains(t, string(raw), `"invalid_parameter"`)
		require.Contains(t, string(raw), wantField)
	}
	const log = `{"level":"INFO","message":"a"}`
	f("/v1/logs?event_ids=maybe", "application/json", log, "event_ids")
	f("/v1/logs?event_ids=", "application/json", log, "event_ids")
	f("/v1/logs?event_ids=true&event_ids=false", "application/json", log, "event_ids")
	f("/v1/logs?ids=true", "application/json", log, "ids")
	f("/v1/otlp/logs?event_ids=true", "application/json", `{}`, "event_ids")
	require.Zero(t, eventsCount(t, a.reg, "logs", "accepted"), "a request with a bad parameter publishes nothing")
}

// TestRequestsAfterLargeOnesKeepTheirRecords posts requests large enough
// that their records are encoded into pooled buffers, which later requests
// reuse: every record must read back as it was sent.
func TestRequestsAfterLargeOnesKeepTheirRecords(t *testing.T) {
	a := newIngestApp(t)
	const requests, lines = 3, 400
	for r := range requests {
		var body strings.Builder
		for i := range lines {
			fmt.Fprintf(&body, `{"task_id":"task-%d","level":"INFO","message":"request %d line %d"}`+"\n", i%7, r, i)
		}
		status, _, raw := a.post(t, "/v1/logs", "application/x-ndjson", []byte(body.String()))
		require.Equal(t, fiber.StatusAccepted, status, string(raw))
	}
	recs := a.records(t, schema.TopicLogs, requests*lines)
	for n, rec := range recs {
		l, err := schema.DecodeLog(rec.Value)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("request %d line %d", n/lines, n%lines), l.Message)
		require.Equal(t, l.TaskID, string(rec.Key))
	}
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
	f("/v1/metrics", js, `[{"name":"ok","value":1},{"name":"bad name","value":1},{"name":"x","value":"NaN"},{"name":"y","kind":"summary","value":1}]`, 400, "validation_failed",
		schema.FieldError{Index: 1, Field: "name", Reason: "must match"},
		schema.FieldError{Index: 2, Field: "value", Reason: "number"},
		schema.FieldError{Index: 3, Field: "kind", Reason: "must be one of"})
	f("/v1/metrics", nd, `{"value":1}`, 400, "validation_failed", schema.FieldError{Field: "name", Reason: "required"})
	f("/v1/metrics", text, "up 1\nup{ 2\n", 400, "validation_failed", schema.FieldError{Index: 2, Field: "body", Reason: "line 2:"})
	f("/v1/metrics", text, "big +Inf\n", 400, "validation_failed", schema.FieldError{Index: 1, Field: "value", Reason: "(line 1, sample of big)"})
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
	data := ingesttest.LogsData()
	pb, err := proto.Marshal(data)
	require.NoError(t, err)
	status, header, body := a.post(t, "/v1/otlp/logs", "application/x-protobuf", pb)
	require.Equal(t, fiber.StatusOK, status, string(body))
	require.Equal(t, "application/x-protobuf", header.Get("Content-Type"))
	require.Empty(t, body, "an ExportLogsServiceResponse without partial success")

	status, header, body = a.post(t, "/v1/otlp/metrics", "application/json", ingesttest.OTLPJSON(t, ingesttest.MetricsData()))
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

// rejection is the 400 answer of a refused request.
type rejection struct {
	Error struct {
		Code    string              `json:"code"`
		Details []schema.FieldError `json:"details"`
	} `json:"error"`
}

// requireRefused posts body and requires a 400 with code and a detail
// naming index, field and a reason containing reason.
func (a *ingestApp) requireRefused(t *testing.T, path, contentType, body, code string, want schema.FieldError) {
	t.Helper()
	status, _, raw := a.post(t, path, contentType, []byte(body))
	require.Equal(t, fiber.StatusBadRequest, status, "%s %q: %s", path, body, raw)
	var answer rejection
	require.NoError(t, json.Unmarshal(raw, &answer), string(raw))
	require.Equal(t, code, answer.Error.Code, string(raw))
	for _, d := range answer.Error.Details {
		if d.Index == want.Index && d.Field == want.Field && strings.Contains(d.Reason, want.Reason) {
			return
		}
	}
	require.Failf(t, "detail missing", "want %+v in %s for %q", want, raw, body)
}

// TestPostRefusesInexactKeys pins that a key matches its field only when
// spelt exactly: encoding/json alone would fold "Status" and "ſtatus"
// (long s) into status.
func TestPostRefusesInexactKeys(t *testing.T) {
	a := newIngestApp(t)
	const js, nd = "application/json", "application/x-ndjson"
	for _, tc := range []struct {
		path, ok string
		keys     map[string]string // key sent: a valid value for the field it folds to
	}{
		{"/v1/progress", `{"task_id":"t","status":"running"}`, map[string]string{
			"ſtatus": `"running"`, "Status": `"running"`, "TASK_ID": `"t"`}},
		{"/v1/logs", `{"level":"INFO","message":"m"}`, map[string]string{
			"ſource": `"s"`, "Message": `"m"`, "TASK_ID": `"t"`}},
		{"/v1/metrics", `{"name":"m","value":1}`, map[string]string{
			"labelſ": `{"k":"v"}`, "Name": `"m"`, "TASK_ID": `"t"`}},
	} {
		for key, value := range tc.keys {
			bad := tc.ok[:len(tc.ok)-1] + `,"` + key + `":` + value + `}`
			want := schema.FieldError{Field: key, Reason: "is not a known field"}
			a.requireRefused(t, tc.path, js, bad, "validation_failed", want)
			want.Index = 1
			a.requireRefused(t, tc.path, js, "["+tc.ok+","+bad+"]", "validation_failed", want)
			a.requireRefused(t, tc.path, nd, tc.ok+"\n"+bad+"\n", "validation_failed", want)
		}
	}
	require.Zero(t, eventsCount(t, a.reg, "progress", "accepted")+eventsCount(t, a.reg, "logs", "accepted")+eventsCount(t, a.reg, "metrics", "accepted"))
}

// TestPostRefusesServerSetFields pins that tenant and ingest_order are
// refused when sent at all, empty or null included: ingest sets them.
func TestPostRefusesServerSetFields(t *testing.T) {
	a := newIngestApp(t)
	for path, ok := range map[string]string{
		"/v1/progress": `{"task_id":"t","status":"running"`,
		"/v1/logs":     `{"level":"INFO","message":"m"`,
		"/v1/metrics":  `{"name":"m","value":1`,
	} {
		for _, sent := range []string{`"tenant":""`, `"tenant":null`, `"tenant":"other"`, `"ingest_order":0`, `"ingest_order":7`} {
			field, _, _ := strings.Cut(strings.Trim(sent, `"`), `"`)
			a.requireRefused(t, path, "application/json", ok+","+sent+"}", "validation_failed",
				schema.FieldError{Field: field, Reason: "is set by the server and must not be sent"})
		}
	}
}

// TestPostMetricsRefusesNonFiniteAndNegativeCounters pins one rule for
// every way a sample arrives: a value that is not a finite number, or a
// counter below zero, is refused with the item and the field, and nothing
// of the request is accepted.
func TestPostMetricsRefusesNonFiniteAndNegativeCounters(t *testing.T) {
	a := newIngestApp(t)
	const js, text = "application/json", "text/plain; version=0.0.4"
	refused := func(contentType, body string, want schema.FieldError) {
		t.Helper()
		a.requireRefused(t, "/v1/metrics", contentType, body, "validation_failed", want)
	}
	refused(js, `[{"name":"ok","value":1},{"name":"big","value":1e400}]`, schema.FieldError{Index: 1, Field: "value", Reason: "is out of range: number 1e400"})
	refused(js, `[{"name":"ok","value":1},{"name":"c","kind":"counter","value":-1}]`, schema.FieldError{Index: 1, Field: "value", Reason: "must not be negative for a counter"})
	refused(js, `[{"name":"ok","value":1},{"name":"no_value"}]`, schema.FieldError{Index: 1, Field: "value", Reason: "is required"})
	refused(js, `{"name":"null_value","value":null}`, schema.FieldError{Field: "value", Reason: "is required"})

	refused(text, "ok 1\nup NaN\n", schema.FieldError{Index: 2, Field: "value", Reason: "must be a finite number (line 2, sample of up)"})
	refused(text, "ok 1\n\nup -Inf\n", schema.FieldError{Index: 3, Field: "value", Reason: "must be a finite number (line 3"})
	refused(text, "# TYPE jobs_total counter\njobs_total{q=\"a\"} 3\njobs_total{q=\"b\"} -1\n", schema.FieldError{Index: 3, Field: "value", Reason: "must not be negative for a counter (line 3"})
	// An unobserved summary's quantiles are NaN: no number to store.
	refused(text, "# TYPE idle summary\nidle{quantile=\"0.5\"} NaN\nidle_sum 0\nidle_count 0\n", schema.FieldError{Index: 2, Field: "value", Reason: "finite"})
	refused(text, "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\ns_count -2\n", schema.FieldError{Index: 4, Field: "value", Reason: "must not be negative for a counter (line 4, sample of s_count)"})
	refused(text, "# TYPE s summary\ns_sum 1\ns_count NaN\n", schema.FieldError{Index: 3, Field: "value", Reason: "finite"})
	refused(text, "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum -3\nh_count 1\n", schema.FieldError{Index: 4, Field: "value", Reason: "negative"})

	sum := func(monotonic bool, temporality metricspb.AggregationTemporality, v float64) *metricspb.Metric {
		return &metricspb.Metric{Name: "jobs", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
			IsMonotonic: monotonic, AggregationTemporality: temporality, DataPoints: []*metricspb.NumberDataPoint{ingesttest.GaugePoint(1), ingesttest.GaugePoint(v)},
		}}}
	}
	gauge := &metricspb.Metric{Name: "depth", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{ingesttest.GaugePoint(1), ingesttest.GaugePoint(math.NaN())}}}}
	const cumulative, delta = metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE, metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
	for _, tc := range []struct {
		metric *metricspb.Metric
		want   schema.FieldError
	}{
		{gauge, schema.FieldError{Index: 1, Field: "value", Reason: "must be a finite number (resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[1]"}},
		{sum(false, cumulative, math.Inf(1)), schema.FieldError{Index: 1, Field: "value", Reason: "must be a finite number (resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[1]"}},
		{sum(true, cumulative, -1), schema.FieldError{Index: 1, Field: "value", Reason: "must not be negative for a counter (resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[1]"}},
		{sum(true, delta, -1), schema.FieldError{Index: 1, Field: "value", Reason: "must not be negative for a monotonic sum (resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[1]"}},
	} {
		data := &metricspb.MetricsData{ResourceMetrics: []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{tc.metric}}}}}}
		pb, err := proto.Marshal(data)
		require.NoError(t, err)
		a.requireRefused(t, "/v1/otlp/metrics", "application/x-protobuf", string(pb), "validation_failed", tc.want)
		a.requireRefused(t, "/v1/otlp/metrics", js, string(ingesttest.OTLPJSON(t, data)), "validation_failed", tc.want)
	}
	require.Zero(t, eventsCount(t, a.reg, "metrics", "accepted"))
}

// TestPostOTLPRefusesWhatItCannotStore pins the OTLP input that used to be
// taken without a word: a number point without a value (stored as 0), a
// histogram whose buckets do not match its bounds, keys differing from
// OTLP's only in case, and an export left empty by keys ingest ignored.
func TestPostOTLPRefusesWhatItCannotStore(t *testing.T) {
	a := newIngestApp(t)
	const js, pbType = "application/json", "application/x-protobuf"
	one := func(m *metricspb.Metric) *metricspb.MetricsData {
		return &metricspb.MetricsData{ResourceMetrics: []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{m}}}}}}
	}
	both := func(data *metricspb.MetricsData, want schema.FieldError) {
		t.Helper()
		pb, err := proto.Marshal(data)
		require.NoError(t, err)
		a.requireRefused(t, "/v1/otlp/metrics", pbType, string(pb), "validation_failed", want)
		a.requireRefused(t, "/v1/otlp/metrics", js, string(ingesttest.OTLPJSON(t, data)), "validation_failed", want)
	}
	both(one(&metricspb.Metric{Name: "depth", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{
		ingesttest.GaugePoint(1), {TimeUnixNano: 1_700_000_000_500_000_000}}}}}),
		schema.FieldError{Index: 1, Field: "value", Reason: "is required (resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[1]"})
	both(one(&metricspb.Metric{Name: "lat", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
		AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
		DataPoints:             []*metricspb.HistogramDataPoint{{Count: 3, ExplicitBounds: []float64{1, 2}, BucketCounts: []uint64{1, 2}}}}}}),
		schema.FieldError{Field: "bucketCounts", Reason: "must have one count more than explicitBounds has bounds (resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0])"})
	both(one(&metricspb.Metric{Name: "lat", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
		AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
		DataPoints:             []*metricspb.HistogramDataPoint{{Count: 4, ExplicitBounds: []float64{1}, BucketCounts: []uint64{1, 2}}}}}}),
		schema.FieldError{Field: "count", Reason: "must be the sum of bucketCounts"})

	const record = `{"severityNumber":9,"body":{"stringValue":"m"}}`
	a.requireRefused(t, "/v1/otlp/logs", js, `{"ResourceLogs":[{"scopeLogs":[{"logRecords":[`+record+`]}]}]}`, "validation_failed",
		schema.FieldError{Field: "ResourceLogs", Reason: "is not a known field"})
	a.requireRefused(t, "/v1/otlp/logs", js, `{"resourceLogs":[{"ſcopeLogs":[{"logRecords":[`+record+`]}]}]}`, "validation_failed",
		schema.FieldError{Field: "resourceLogs[0].ſcopeLogs", Reason: "is not a known field"})
	a.requireRefused(t, "/v1/otlp/logs", js, `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"SeverityNumber":17,"body":{"stringValue":"m"}}]}]}]}`, "validation_failed",
		schema.FieldError{Field: "resourceLogs[0].scopeLogs[0].logRecords[0].SeverityNumber", Reason: "is not a known field"})
	a.requireRefused(t, "/v1/otlp/logs", js, `{"logs":[{"scopeLogs":[{"logRecords":[`+record+`]}]}]}`, "validation_failed",
		schema.FieldError{Field: "logs", Reason: "is not a known field, and the export has no log records"})
	a.requireRefused(t, "/v1/otlp/metrics", js, `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","Gauge":{"dataPoints":[{"asDouble":1}]}}]}]}]}`, "validation_failed",
		schema.FieldError{Field: "resourceMetrics[0].scopeMetrics[0].metrics[0].Gauge", Reason: "is not a known field"})

	// A field of a newer OTLP is ignored, as the specification asks, when
	// there is data beside it.
	status, _, raw := a.post(t, "/v1/otlp/logs", js, []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[`+record[:len(record)-1]+`,"futureField":1}]}]}],"futureTop":{}}`))
	require.Equal(t, fiber.StatusOK, status, string(raw))
	require.Zero(t, eventsCount(t, a.reg, "metrics", "accepted"))
	require.Equal(t, 1.0, eventsCount(t, a.reg, "logs", "accepted"))
}
