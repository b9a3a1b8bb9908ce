package main

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
)

const (
	ctJSON   = "application/json"
	ctNDJSON = "application/x-ndjson"
	ctProm   = "text/plain; version=0.0.4; charset=utf-8"
	ctProto  = "application/x-protobuf"
)

// accepted posts body to path, asking for the event ids, and checks that
// the 202 counts and lists want items.
func (s *server) accepted(t testing.TB, path, contentType, body string, want int) {
	t.Helper()
	r := s.do(t, http.MethodPost, path+"?event_ids=true", "", contentType, body)
	require.Equal(t, http.StatusAccepted, r.status, "%s %s: %v", path, contentType, r.body)
	require.Equal(t, float64(want), r.body["accepted"], path)
	require.Len(t, r.body["event_ids"], want, path)
}

// waitLogs waits until the query lists want logs for the query string q.
func (s *server) waitLogs(t testing.TB, q string, want int) []map[string]any {
	t.Helper()
	var last response
	require.Eventually(t, func() bool {
		last = s.get(t, "", "/v1/logs?"+q)
		return last.status == http.StatusOK && len(last.body["logs"].([]any)) == want
	}, 10*time.Second, 20*time.Millisecond, "logs %s: %d %v", q, last.status, last.body)
	out := make([]map[string]any, want)
	for i, l := range last.body["logs"].([]any) {
		out[i] = l.(map[string]any)
	}
	return out
}

// waitSeries waits until a metric's series, aggregated over one bucket
// holding every sample, equal want (labels of the group → value).
func (s *server) waitSeries(t testing.TB, name, agg, groupBy string, from int64, want map[string]float64) {
	t.Helper()
	q := url.Values{"name": {name}, "agg": {agg}, "from": {fmt.Sprint(from)}, "to": {fmt.Sprint(from + 60_000)}, "step": {"60000"}}
	if groupBy != "" {
		q.Set("group_by", groupBy)
	}
	var got map[string]float64
	require.Eventually(t, func() bool {
		r := s.get(t, "", "/v1/metrics/series?"+q.Encode())
		require.Equal(t, http.StatusOK, r.status, r.body)
		got = map[string]float64{}
		for _, sr := range r.body["series"].([]any) {
			sr := sr.(map[string]any)
			v := sr["points"].([]any)[0].(map[string]any)["v"]
			if v == nil {
				continue
			}
			got[fmt.Sprint(sr["labels"].(map[string]any)[groupBy])] = v.(float64)
		}
		return fmt.Sprint(got) == fmt.Sprint(want)
	}, 10*time.Second, 20*time.Millisecond, "series %s %s: got %v, want %v", name, agg, got, want)
}

func TestLogsAndMetricsFlowFromEveryBodyFormToQuery(t *testing.T) {
	srv := startServer(t)
	// One minute-aligned bucket, a little in the past, holds every sample.
	t0 := time.Now().Add(-2*time.Minute).UnixMilli() / 60_000 * 60_000
	logLine := func(i int, level string) string {
		return fmt.Sprintf(`{"task_id":"sig-job","level":%q,"message":"step %d","source":"worker","timestamp":%d,"attributes":{"form":"json"}}`, level, i, t0+int64(i))
	}
	srv.accepted(t, "/v1/logs", ctJSON, logLine(1, "INFO"), 1)
	srv.accepted(t, "/v1/logs", ctJSON, "["+logLine(2, "DEBUG")+","+logLine(3, "WARNING")+"]", 2)
	srv.accepted(t, "/v1/logs", ctNDJSON, logLine(4, "ERROR")+"\n"+logLine(5, "CRITICAL")+"\n", 2)

	trace, _ := hex.DecodeString("0af7651916cd43dd8448eb211c80319c")
	otlpLogs, err := proto.Marshal(&logspb.LogsData{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "otel-worker"}}}}},
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{
			TimeUnixNano: uint64(t0+6) * 1e6, SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_WARN2, TraceId: trace,
			Body:       &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "step 6 from OTLP"}},
			Attributes: []*commonpb.KeyValue{{Key: "task_id", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "sig-job"}}}},
		}}}},
	}}})
	require.NoError(t, err)
	r := srv.do(t, http.MethodPost, "/v1/otlp/logs", "", ctProto, string(otlpLogs))
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, ctProto, r.header.Get("Content-Type"))

	logs := srv.waitLogs(t, "task_id=sig-job", 6)
	require.Equal(t, "step 6 from OTLP", logs[0]["message"], "newest first")
	require.Equal(t, "WARNING", logs[0]["level"])
	require.Equal(t, "0af7651916cd43dd8448eb211c80319c", logs[0]["trace_id"])
	require.Equal(t, "otel-worker", logs[0]["source"])
	require.Equal(t, "step 1", logs[5]["message"])
	require.Equal(t, map[string]any{"form": "json"}, logs[5]["attributes"])
	srv.waitLogs(t, "task_id=sig-job&level=ERROR", 2)

	sample := func(i int, queue string, v float64) string {
		return fmt.Sprintf(`{"name":"sig_depth","value":%g,"labels":{"queue":%q},"timestamp":%d}`, v, queue, t0+int64(i))
	}
	srv.accepted(t, "/v1/metrics", ctJSON, sample(1, "a", 1), 1)
	srv.accepted(t, "/v1/metrics", ctJSON, "["+sample(2, "a", 2)+","+sample(3, "b", 10)+"]", 2)
	srv.accepted(t, "/v1/metrics", ctNDJSON, sample(4, "a", 3)+"\n"+sample(5, "b", 20)+"\n", 2)
	srv.accepted(t, "/v1/metrics", ctProm, fmt.Sprintf(
		"# TYPE sig_jobs_total counter\nsig_jobs_total{queue=\"a\"} 7 %d\n# TYPE sig_wait_seconds histogram\n"+
			"sig_wait_seconds_bucket{le=\"1\"} 2 %[1]d\nsig_wait_seconds_bucket{le=\"+Inf\"} 3 %[1]d\nsig_wait_seconds_sum 4.5 %[1]d\nsig_wait_seconds_count 3 %[1]d\n", t0+6), 5)
	otlpMetrics := fmt.Sprintf(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"sig.otlp.temp","gauge":{"dataPoints":[
		{"timeUnixNano":"%d","asDouble":21.5,"attributes":[{"key":"room","value":{"stringValue":"lab"}}]}]}}]}]}]}`, (t0+7)*1e6)
	r = srv.do(t, http.MethodPost, "/v1/otlp/metrics", "", ctJSON, otlpMetrics)
	require.Equal(t, http.StatusOK, r.status, r.body)

	srv.waitSeries(t, "sig_depth", "count", "queue", t0, map[string]float64{"a": 3, "b": 2})
	srv.waitSeries(t, "sig_depth", "sum", "queue", t0, map[string]float64{"a": 6, "b": 30})
	srv.waitSeries(t, "sig_jobs_total", "last", "queue", t0, map[string]float64{"a": 7})
	srv.waitSeries(t, "sig_wait_seconds_bucket", "last", "le", t0, map[string]float64{"1": 2, "+Inf": 3})
	srv.waitSeries(t, "sig_otlp_temp", "last", "room", t0, map[string]float64{"lab": 21.5})
}

func TestSignalsRejectBadInputAndStoreNothingOfIt(t *testing.T) {
	srv := startServer(t, "--body-limit", "4096")
	f := func(name, path, contentType, body string, wantStatus int, wantCode string, wantIndex int, wantField string) {
		t.Helper()
		r := srv.do(t, http.MethodPost, path, "", contentType, body)
		require.Equal(t, wantStatus, r.status, "%s: %v", name, r.body)
		e := r.body["error"].(map[string]any)
		require.Equal(t, wantCode, e["code"], name)
		if wantField == "" {
			return
		}
		found := false
		for _, d := range e["details"].([]any) {
			d := d.(map[string]any)
			found = found || (d["index"] == float64(wantIndex) && d["field"] == wantField)
		}
		require.True(t, found, "%s: want item %d field %s in %v", name, wantIndex, wantField, e["details"])
	}
	good := `{"task_id":"bad-batch","level":"INFO","message":"kept only if the batch is"}`
	f("log without level", "/v1/logs", ctJSON, `[`+good+`,{"task_id":"bad-batch","message":"x"}]`, 400, "validation_failed", 1, "level")
	f("log with bad level", "/v1/logs", ctNDJSON, good+"\n"+`{"level":"NOTICE","message":"x"}`, 400, "validation_failed", 1, "level")
	f("log without message", "/v1/logs", ctJSON, `{"level":"INFO"}`, 400, "validation_failed", 0, "message")
	f("log with unknown field", "/v1/logs", ctJSON, `{"level":"INFO","message":"x","severity":"high"}`, 400, "validation_failed", 0, "severity")
	f("malformed log", "/v1/logs", ctJSON, `{"level":`, 400, "invalid_json", 0, "body")
	f("log as text", "/v1/logs", "text/plain", good, 415, "unsupported_media_type", 0, "")
	f("log body over the limit", "/v1/logs", ctJSON, "["+strings.Repeat(good+",", 60)+good+"]", 413, "payload_too_large", 0, "")

	metric := `{"name":"bad_batch","value":1}`
	f("bad metric name", "/v1/metrics", ctJSON, `[`+metric+`,{"name":"queue depth","value":1}]`, 400, "validation_failed", 1, "name")
	// JSON has no NaN: the nearest a client can send is a string.
	f("NaN metric value", "/v1/metrics", ctNDJSON, metric+"\n"+`{"name":"x","value":"NaN"}`, 400, "validation_failed", 1, "value")
	f("bad metric kind", "/v1/metrics", ctJSON, `{"name":"x","kind":"summary","value":1}`, 400, "validation_failed", 0, "kind")
	// In Prometheus text the index is the line, from 1.
	f("infinite Prometheus sample", "/v1/metrics", ctProm, "bad_batch 1\nx +Inf\n", 400, "validation_failed", 2, "value")
	f("Prometheus syntax error", "/v1/metrics", ctProm, "bad_batch 1\nx{ 1\n", 400, "validation_failed", 2, "body")
	f("negative Prometheus counter", "/v1/metrics", ctProm, "# TYPE x_total counter\nx_total -1\n", 400, "validation_failed", 2, "value")
	f("metrics as XML", "/v1/metrics", "application/xml", "<x/>", 415, "unsupported_media_type", 0, "")
	f("OTLP as NDJSON", "/v1/otlp/metrics", ctNDJSON, "{}", 415, "unsupported_media_type", 0, "")
	f("OTLP log without body", "/v1/otlp/logs", ctJSON, `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":9}]}]}]}`, 400, "validation_failed", 0, "message")

	// Nothing of the rejected batches is stored: by the time markers are,
	// their good items would be.
	srv.accepted(t, "/v1/logs", ctJSON, `{"task_id":"marker","level":"INFO","message":"marker"}`, 1)
	srv.accepted(t, "/v1/metrics", ctJSON, `{"name":"marker","value":1}`, 1)
	srv.waitLogs(t, "task_id=marker", 1)
	from := time.Now().Add(-time.Hour).UnixMilli() / 60_000 * 60_000
	q := fmt.Sprintf("&from=%d&to=%d&step=60000", from, from+2*3_600_000)
	require.Eventually(t, func() bool {
		r := srv.get(t, "", "/v1/metrics/series?name=marker&agg=count"+q)
		return r.status == http.StatusOK && len(r.body["series"].([]any)) == 1
	}, 10*time.Second, 20*time.Millisecond)
	srv.waitLogs(t, "task_id=bad-batch", 0)
	r := srv.get(t, "", "/v1/metrics/series?name=bad_batch&agg=count"+q)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Empty(t, r.body["series"])
}
