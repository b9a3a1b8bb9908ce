package ingest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/taskpulse/taskpulse/ingest/internal/ingesttest"
	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/bus/embedded"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/ratelimit"
	"github.com/taskpulse/taskpulse/schema"
)

const (
	ctJSON     = "application/json"
	ctProtobuf = "application/x-protobuf"
)

// otlpBodies are the logs and metrics exports of ingesttest in both
// encodings.
func otlpBodies(t *testing.T) (logsPB, logsJSON, metricsPB, metricsJSON []byte) {
	t.Helper()
	logsPB, err := proto.Marshal(ingesttest.LogsData())
	require.NoError(t, err)
	metricsPB, err = proto.Marshal(ingesttest.MetricsData())
	require.NoError(t, err)
	return logsPB, ingesttest.OTLPJSON(t, ingesttest.LogsData()), metricsPB, ingesttest.OTLPJSON(t, ingesttest.MetricsData())
}

// unstamped decodes records as the bus holds them, without what the
// server stamps differently on every request: ids, ingest order, and a
// time stamped at or after since, when the record had none.
func unstamped(t *testing.T, topic string, recs []bus.Record, since int64) []string {
	t.Helper()
	out := make([]string, len(recs))
	for i, r := range recs {
		var v any
		switch topic {
		case schema.TopicLogs:
			l, err := schema.DecodeLog(r.Value)
			require.NoError(t, err)
			l.EventID, l.IngestOrder = "", 0
			if l.Timestamp >= since {
				l.Timestamp = 0
			}
			v = l
		case schema.TopicMetrics:
			m, err := schema.DecodeMetric(r.Value)
			require.NoError(t, err)
			m.EventID, m.IngestOrder = "", 0
			if m.Timestamp >= since {
				m.Timestamp = 0
			}
			v = m
		}
		out[i] = string(r.Key) + " " + fmt.Sprintf("%+v", v)
	}
	return out
}

// TestDefaultPathsTakeOTLPExports posts each export to OTLP/HTTP's default
// path and to /v1/otlp/...: both answer alike, in the request's encoding,
// and put the same records on the bus.
func TestDefaultPathsTakeOTLPExports(t *testing.T) {
	logsPB, logsJSON, metricsPB, metricsJSON := otlpBodies(t)
	for _, tc := range []struct {
		name, path, otlpPath, contentType, topic, answer string
		body                                             []byte
		records                                          int
	}{
		{"logs protobuf", "/v1/logs", "/v1/otlp/logs", ctProtobuf, schema.TopicLogs, "", logsPB, 7},
		{"logs JSON", "/v1/logs", "/v1/otlp/logs", ctJSON, schema.TopicLogs, "{}\n", logsJSON, 7},
		{"logs JSON, spaced, with a charset", "/v1/logs", "/v1/otlp/logs", "Application/JSON; charset=utf-8", schema.TopicLogs, "{}\n",
			append([]byte(" \r\n\t{ \n \"resourceLogs\"\t"), logsJSON[len(`{"resourceLogs"`):]...), 7},
		{"metrics protobuf", "/v1/metrics", "/v1/otlp/metrics", ctProtobuf, schema.TopicMetrics, "", metricsPB, 15},
		{"metrics JSON", "/v1/metrics", "/v1/otlp/metrics", ctJSON, schema.TopicMetrics, "{}\n", metricsJSON, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newIngestApp(t)
			since := time.Now().UnixMilli()
			for _, path := range []string{tc.path, tc.otlpPath} {
				status, header, body := a.post(t, path, tc.contentType, tc.body)
				require.Equal(t, fiber.StatusOK, status, "%s: %s", path, body)
				require.Equal(t, tc.answer, string(body), path)
				if tc.answer == "" {
					require.Equal(t, ctProtobuf, header.Get("Content-Type"), path)
				} else {
					require.Equal(t, ctJSON, header.Get("Content-Type"), path)
				}
			}
			recs := a.records(t, tc.topic, 2*tc.records)
			require.Equal(t, unstamped(t, tc.topic, recs[tc.records:], since), unstamped(t, tc.topic, recs[:tc.records], since))
			require.Equal(t, 2.0*float64(tc.records), eventsCount(t, a.reg, tc.topic, "accepted"))
		})
	}
}

// TestDefaultPathsRefuseBadExportsAsOTLPPathsDo pins that an export that
// cannot be taken is answered on the default path exactly as on
// /v1/otlp/..., and that an export takes no query parameters there
// either.
func TestDefaultPathsRefuseBadExportsAsOTLPPathsDo(t *testing.T) {
	a := newIngestApp(t)
	for _, tc := range []struct{ path, otlpPath, contentType, body string }{
		{"/v1/logs", "/v1/otlp/logs", ctProtobuf, "\xff\xff"},
		{"/v1/logs", "/v1/otlp/logs", ctJSON, `{"resourceLogs":[`},
		{"/v1/logs", "/v1/otlp/logs", ctJSON, `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":9}]}]}]}`},
		{"/v1/logs", "/v1/otlp/logs", ctJSON, `{"resourceLogs":[{"ſcopeLogs":[{"logRecords":[{"body":{"stringValue":"m"}}]}]}]}`},
		{"/v1/logs", "/v1/otlp/logs", ctJSON, `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"xyz","body":{"stringValue":"m"}}]}]}]}`},
		{"/v1/logs", "/v1/otlp/logs", "application/x-protobuf; =bad", "\x0a\x00"},
		{"/v1/metrics", "/v1/otlp/metrics", ctProtobuf, "\x0a\x05\x12\x03\x12\x01\xff"},
		{"/v1/metrics", "/v1/otlp/metrics", ctJSON, `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{"asDouble":1}]}}]}]}],"resourceMetrics":1}`},
		{"/v1/metrics", "/v1/otlp/metrics", ctJSON, `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"isMonotonic":true,"aggregationTemporality":2,"dataPoints":[{"asDouble":-1}]}}]}]}]}`},
	} {
		status, header, body := a.post(t, tc.path, tc.contentType, []byte(tc.body))
		require.GreaterOrEqual(t, status, 400, "%s %q: %s", tc.path, tc.body, body)
		require.Less(t, status, 500, "%s %q: %s", tc.path, tc.body, body)
		otlpStatus, otlpHeader, otlpBody := a.post(t, tc.otlpPath, tc.contentType, []byte(tc.body))
		require.Equal(t, otlpStatus, status, "%s %q", tc.path, tc.body)
		require.Equal(t, otlpHeader.Get("Content-Type"), header.Get("Content-Type"))
		require.JSONEq(t, string(otlpBody), string(body), "%s %q", tc.path, tc.body)
	}
	require.Zero(t, eventsCount(t, a.reg, "logs", "accepted")+eventsCount(t, a.reg, "metrics", "accepted"))

	logsPB, _, _, metricsJSON := otlpBodies(t)
	status, _, body := a.post(t, "/v1/logs?event_ids=true", ctProtobuf, logsPB)
	require.Equal(t, fiber.StatusBadRequest, status, string(body))
	require.Contains(t, string(body), `"parameter":"event_ids"`)
	status, _, body = a.post(t, "/v1/metrics?event_ids=false", ctJSON, metricsJSON)
	require.Equal(t, fiber.StatusBadRequest, status, string(body))
	require.Contains(t, string(body), `"parameter":"event_ids"`)
}

// TestDefaultPathsAnswerTaskPulseBodiesAsBefore posts TaskPulse's own
// bodies, good and bad, to /v1/logs and /v1/metrics as served now and as
// served by their handlers alone, as they were before OTLP shared the
// paths: every answer is the same, byte for byte. A JSON body is OTLP only
// when its first key is the export's.
func TestDefaultPathsAnswerTaskPulseBodiesAsBefore(t *testing.T) {
	now := newIngestApp(t)
	before := handlersAlone(t)
	const nd = "application/x-ndjson"
	for _, tc := range []struct{ path, contentType, body string }{
		{"/v1/logs", ctJSON, `{"level":"INFO","message":"m","task_id":"t"}`},
		{"/v1/logs", ctJSON, `[{"level":"INFO","message":"a"},{"level":"ERROR","message":"b"}]`},
		{"/v1/logs", nd, `{"level":"INFO","message":"a"}` + "\n"},
		{"/v1/logs", ctJSON, `{}`},
		{"/v1/logs", ctJSON, `[]`},
		{"/v1/logs", ctJSON, ``},
		{"/v1/logs", ctJSON, `{"message":"m","level":"INFO","resourceLogs":[]}`},
		{"/v1/logs", ctJSON, `{"resourceLogsX":[]}`},
		{"/v1/logs", ctJSON, `{"resourceMetrics":[]}`},
		{"/v1/logs", ctJSON, `[{"resourceLogs":[]}]`},
		{"/v1/logs", ctJSON, `{"\u0072esourceLogs":[]}`},
		{"/v1/logs", nd, `{"resourceLogs":[]}` + "\n"},
		{"/v1/logs", "text/plain", `{"resourceLogs":[]}`},
		{"/v1/logs", "application/protobuf", "\x0a\x00"},
		{"/v1/metrics", ctJSON, `{"name":"m","value":1}`},
		{"/v1/metrics", ctJSON, `[{"name":"m","value":1},{"name":"bad name","value":1}]`},
		{"/v1/metrics", "text/plain; version=0.0.4", "up 1\n"},
		{"/v1/metrics", ctJSON, `{"resourceLogs":[]}`},
		{"/v1/metrics", ctJSON, `{"name":"m","value":1,"resourceMetrics":[]}`},
		{"/v1/metrics", "application/xml", "<x/>"},
	} {
		status, header, body := now.post(t, tc.path, tc.contentType, []byte(tc.body))
		wantStatus, wantHeader, wantBody := before.post(t, tc.path, tc.contentType, []byte(tc.body))
		require.Equal(t, wantStatus, status, "%s %s %q: %s", tc.path, tc.contentType, tc.body, body)
		require.Equal(t, wantHeader.Get("Content-Type"), header.Get("Content-Type"), "%s %q", tc.path, tc.body)
		require.Equal(t, string(wantBody), string(body), "%s %q", tc.path, tc.body)
	}
	require.Equal(t, 4.0, eventsCount(t, now.reg, "logs", "accepted"))
	require.Equal(t, 2.0, eventsCount(t, now.reg, "metrics", "accepted"))
}

// handlersAlone serves /v1/logs and /v1/metrics with their TaskPulse
// handlers only, mounted as they were before OTLP shared the paths.
func handlersAlone(t *testing.T) *ingestApp {
	return serveIngestWith(t, Deps{}, func(s *Service, r fiber.Router) {
		s.post(r, "/v1/logs", eventIDsQuery, s.postLogs)
		s.post(r, "/v1/metrics", eventIDsQuery, s.postMetrics)
	})
}

// serveIngestWith is newIngestApp with deps and the routes mount mounts.
func serveIngestWith(t *testing.T, deps Deps, mount func(*Service, fiber.Router)) *ingestApp {
	t.Helper()
	b, err := embedded.Open(filepath.Join(t.TempDir(), "bus"), embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	reg := prometheus.NewRegistry()
	deps.Bus, deps.Registerer = b, reg
	svc, err := New(Config{}, deps)
	require.NoError(t, err)
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler, DisableStartupMessage: true})
	mount(svc, app.Group("", auth.Keys{}.Middleware()))
	return &ingestApp{app: app, bus: b, reg: reg}
}

// TestDefaultPathsLimitExports pins that an export on a default path is
// held to its tenant's ingest rate, counted by its records, as on
// /v1/otlp/...
func TestDefaultPathsLimitExports(t *testing.T) {
	const (
		logs    = `{"resourceLogs":[{"scopeLogs":[{"logRecords":[%s]}]}]}`
		record  = `{"severityNumber":9,"body":{"stringValue":"m"}}`
		metrics = `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"q","gauge":{"dataPoints":[%s]}}]}]}]}`
		point   = `{"asDouble":1}`
	)
	for _, tc := range []struct{ path, topic, two, one string }{
		{"/v1/logs", schema.TopicLogs, fmt.Sprintf(logs, record+","+record), fmt.Sprintf(logs, record)},
		{"/v1/metrics", schema.TopicMetrics, fmt.Sprintf(metrics, point+","+point), fmt.Sprintf(metrics, point)},
	} {
		limits, err := ratelimit.New(ratelimit.Config{IngestEventsPerSecond: 0.001, IngestEventsBurst: 2}, ratelimit.Deps{})
		require.NoError(t, err)
		a := serveIngestWith(t, Deps{Limiter: limits}, (*Service).Routes)
		status, _, body := a.post(t, tc.path, ctJSON, []byte(tc.two))
		require.Equal(t, fiber.StatusOK, status, string(body))
		status, header, body := a.post(t, tc.path, ctJSON, []byte(tc.one))
		require.Equal(t, fiber.StatusTooManyRequests, status, string(body))
		require.NotEmpty(t, header.Get(fiber.HeaderRetryAfter))
		var answer rejection
		require.NoError(t, json.Unmarshal(body, &answer))
		require.Equal(t, httpx.CodeRateLimited, answer.Error.Code)
		require.Equal(t, 1.0, eventsCount(t, a.reg, tc.topic, "rate_limited"), tc.path)
	}
}
