package main

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/app"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// otlpCollector is a tiny OTLP/HTTP trace receiver: it keeps the spans
// exported to it.
type otlpCollector struct {
	url string

	mu       sync.Mutex
	exports  int
	spans    map[string][]byte // span name -> trace id of the last one
	resource map[string]*commonpb.AnyValue
}

func startCollector(t *testing.T) *otlpCollector {
	t.Helper()
	c := &otlpCollector{spans: map[string][]byte{}, resource: map[string]*commonpb.AnyValue{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = gz
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.exports++
		for _, rs := range req.GetResourceSpans() {
			for _, kv := range rs.GetResource().GetAttributes() {
				c.resource[kv.GetKey()] = kv.GetValue()
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					c.spans[s.GetName()] = s.GetTraceId()
				}
			}
		}
		c.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

// has reports whether spans of every name arrived.
func (c *otlpCollector) has(names ...string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range names {
		if _, ok := c.spans[n]; !ok {
			return false
		}
	}
	return true
}

const clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"

// postTraced posts progress as a client that traces its requests.
func postTraced(t *testing.T, srv *server, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.base+"/v1/progress", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+clientTraceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
}

// The spans of the last requests and batches before a stop are flushed by
// the stop, however long the batch span processor would otherwise wait.
func TestOTLPExportToEndpointFlag(t *testing.T) {
	col := startCollector(t)
	srv := startServer(t, "--otlp-endpoint", col.url)
	postTraced(t, srv, progressBody(event("traced", 1, "running", 40)))
	srv.waitTask(t, "", "traced", "running", 1)
	srv.stop()

	require.Eventually(t, func() bool { return col.has("POST /v1/progress", "writer.store") },
		10*time.Second, 20*time.Millisecond, "spans exported to %s", col.url)
	col.mu.Lock()
	defer col.mu.Unlock()
	require.Equal(t, clientTraceID, hex.EncodeToString(col.spans["POST /v1/progress"]), "the request continues the client's trace")
	require.Equal(t, "taskpulse", col.resource["service.name"].GetStringValue())
	var services []string
	for _, v := range col.resource["taskpulse.services"].GetArrayValue().GetValues() {
		services = append(services, v.GetStringValue())
	}
	require.True(t, slices.Contains(services, "ingest") && slices.Contains(services, "writer"), "services %v", services)
}

// The standard OpenTelemetry variables configure the export as well, and a
// running server exports on the batch processor's schedule.
func TestOTLPExportToEnvironmentEndpoint(t *testing.T) {
	col := startCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", col.url)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	srv := startServer(t)
	postTraced(t, srv, progressBody(event("traced", 1, "running", 40)))
	require.Eventually(t, func() bool { return col.has("POST /v1/progress", "writer.store") },
		10*time.Second, 20*time.Millisecond, "spans exported while serving")
}

func TestOTLPEndpointMustBeAURL(t *testing.T) {
	var s app.Settings
	fs := flagSetForTest()
	s.RegisterFlags(fs)
	err := s.Parse(fs, []string{"--otlp-endpoint", "127.0.0.1:4318"})
	require.ErrorContains(t, err, "--otlp-endpoint")
}
