package ratelimit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/taskpulse/taskpulse/ingest"
	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/bus/embedded"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/ratelimit"
	"github.com/taskpulse/taskpulse/schema"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp keeps a process-wide clock goroutine, and its worker
		// pool's cleaner notices a stopped server only after its next
		// sleep; neither belongs to a test.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

// server is ingest behind auth.Middleware, guarded by limits, over a real
// embedded bus.
type server struct {
	app *fiber.App
	bus *embedded.Bus
	reg *prometheus.Registry
}

func newServer(t *testing.T, cfg ratelimit.Config, keys auth.Keys) *server {
	t.Helper()
	b, err := embedded.Open(filepath.Join(t.TempDir(), "bus"), embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	reg := prometheus.NewRegistry()
	limits, err := ratelimit.New(cfg, ratelimit.Deps{Registerer: reg})
	require.NoError(t, err)
	svc, err := ingest.New(ingest.Config{}, ingest.Deps{Bus: b, Registerer: reg, Limiter: limits})
	require.NoError(t, err)
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler, DisableStartupMessage: true})
	svc.Routes(app.Group("", keys.Middleware(auth.WithGuard(limits.AuthGuard()))))
	return &server{app: app, bus: b, reg: reg}
}

// listen serves s on 127.0.0.1 and returns its base URL.
func (s *server) listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.app.Listener(ln) }()
	t.Cleanup(func() {
		require.NoError(t, s.app.Shutdown())
		require.NoError(t, <-done)
	})
	return "http://" + ln.Addr().String()
}

// clientFrom is an HTTP client whose connections come from the loopback
// address ip, so that the server sees distinct peers.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type answer struct {
	status     int
	retryAfter string
	code       string
	body       string
}

func post(t *testing.T, do func(*http.Request) (*http.Response, error), url, key, contentType, body string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(raw)}
	if resp.StatusCode >= 400 {
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		require.NoError(t, json.Unmarshal(raw, &e), string(raw))
		a.code = e.Error.Code
	}
	return a
}

// requireLimited checks a 429 of ours with a Retry-After of at least one
// second.
func requireLimited(t *testing.T, a answer) {
	t.Helper()
	require.Equal(t, fiber.StatusTooManyRequests, a.status, a.body)
	require.Equal(t, httpx.CodeRateLimited, a.code)
	secs, err := strconv.Atoi(a.retryAfter)
	require.NoError(t, err, "Retry-After %q", a.retryAfter)
	require.GreaterOrEqual(t, secs, 1)
}

func logLines(message string, n int) string {
	var sb strings.Builder
	for range n {
		fmt.Fprintf(&sb, `{"level":"INFO","message":%q}`+"\n", message)
	}
	return sb.String()
}

func TestIngestOverTheTenantRateIsRefusedAndNotPublished(t *testing.T) {
	s := newServer(t, ratelimit.Config{IngestEventsPerSecond: 1, IngestEventsBurst: 10},
		auth.Keys{"ka": "acme", "kg": "globex"})
	url := s.listen(t) + "/v1/logs"
	c := clientFrom(t, "127.0.0.1")

	a := post(t, c.Do, url, "ka", "application/x-ndjson", logLines("acme-ok", 10))
	require.Equal(t, fiber.StatusAccepted, a.status, a.body)
	a = post(t, c.Do, url, "ka", "application/x-ndjson", logLines("acme-refused", 5))
	requireLimited(t, a)
	a = post(t, c.Do, url, "kg", "application/x-ndjson", logLines("globex-ok", 10))
	require.Equal(t, fiber.StatusAccepted, a.status, "another tenant is unaffected: %s", a.body)

	// The topic is one ordered log: had the refused request been
	// published, its records would come before globex's.
	byMessage := map[string]int{}
	for _, r := range readUntil(t, s.bus, schema.TopicLogs, func(recs []bus.Record) bool {
		return countMessage(t, recs, "globex-ok") == 10
	}) {
		l, err := schema.DecodeLog(r.Value)
		require.NoError(t, err)
		byMessage[l.Message+"/"+r.Headers[schema.HeaderTenant]]++
	}
	require.Equal(t, map[string]int{"acme-ok/acme": 10, "globex-ok/globex": 10}, byMessage)
	require.Equal(t, 5.0, metric(t, s.reg, "taskpulse_ingest_events_total", "signal", "logs", "outcome", "rate_limited"))
	require.Equal(t, 1.0, metric(t, s.reg, "taskpulse_ratelimit_rejected_total", "limit", "ingest_events"))
}

func TestWrongKeysFromOneAddressAreRefused(t *testing.T) {
	s := newServer(t, ratelimit.Config{AuthFailuresPerMinute: 1, AuthFailuresBurst: 3}, auth.Keys{"ka": "acme"})
	url := s.listen(t) + "/v1/logs"
	attacker, other := clientFrom(t, "127.0.0.2"), clientFrom(t, "127.0.0.1")
	// The first wrong key also tells whether this host lets a socket bind
	// to a loopback address other than 127.0.0.1.
	resp, err := attacker.Post(url, "application/x-ndjson", strings.NewReader(logLines("x", 1)))
	if err != nil {
		t.Skipf("cannot connect from 127.0.0.2: %v", err)
	}
	resp.Body.Close()
	require.Equal(t, fiber.StatusUnauthorized, resp.StatusCode)
	for range 2 {
		a := post(t, attacker.Do, url, "wrong", "application/x-ndjson", logLines("x", 1))
		require.Equal(t, fiber.StatusUnauthorized, a.status, a.body)
	}
	for _, key := range []string{"wrong", "ka"} {
		a := post(t, attacker.Do, url, key, "application/x-ndjson", logLines("x", 1))
		requireLimited(t, a)
		secs, _ := strconv.Atoi(a.retryAfter)
		require.InDelta(t, 60, secs, 1)
	}
	a := post(t, other.Do, url, "ka", "application/x-ndjson", logLines("ok", 1))
	require.Equal(t, fiber.StatusAccepted, a.status, "another address is unaffected: %s", a.body)
	require.Equal(t, 3.0, metric(t, s.reg, "taskpulse_auth_failures_total"))
	require.Equal(t, 2.0, metric(t, s.reg, "taskpulse_ratelimit_rejected_total", "limit", "auth_failures"))
}

func TestEveryIngestRouteIsLimited(t *testing.T) {
	const (
		otlpLogs    = `{"resourceLogs":[{"scopeLogs":[{"logRecords":[%s]}]}]}`
		otlpLog     = `{"severityNumber":9,"body":{"stringValue":"m"}}`
		otlpMetrics = `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"q","gauge":{"dataPoints":[%s]}}]}]}]}`
		otlpPoint   = `{"asDouble":1}`
	)
	f := func(path, contentType, signal, two, one string) {
		t.Helper()
		s := newServer(t, ratelimit.Config{IngestEventsPerSecond: 0.001, IngestEventsBurst: 2}, auth.Keys{})
		do := func(req *http.Request) (*http.Response, error) { return s.app.Test(req, -1) }
		a := post(t, do, "http://test"+path, "", contentType, two)
		require.Contains(t, []int{fiber.StatusOK, fiber.StatusAccepted}, a.status, "%s: %s", path, a.body)
		requireLimited(t, post(t, do, "http://test"+path, "", contentType, one))
		require.Equal(t, 1.0, metric(t, s.reg, "taskpulse_ingest_events_total", "signal", signal, "outcome", "rate_limited"), path)
	}
	progress := `{"task_id":"t1","status":"running"}`
	f("/v1/progress", "application/json", schema.TopicProgress, "["+progress+","+progress+"]", progress)
	f("/v1/logs", "application/x-ndjson", schema.TopicLogs, logLines("m", 2), logLines("m", 1))
	metricJSON := `{"name":"q","value":1}`
	f("/v1/metrics", "application/json", schema.TopicMetrics, "["+metricJSON+","+metricJSON+"]", metricJSON)
	f("/v1/metrics", "text/plain; version=0.0.4", schema.TopicMetrics, "a 1\nb 2\n", "a 1\n")
	f("/v1/otlp/logs", "application/json", schema.TopicLogs,
		fmt.Sprintf(otlpLogs, otlpLog+","+otlpLog), fmt.Sprintf(otlpLogs, otlpLog))
	f("/v1/otlp/metrics", "application/json", schema.TopicMetrics,
		fmt.Sprintf(otlpMetrics, otlpPoint+","+otlpPoint), fmt.Sprintf(otlpMetrics, otlpPoint))
}

// readUntil reads topic from the start until done says it has enough.
func readUntil(t *testing.T, b *embedded.Bus, topic string, done func([]bus.Record) bool) []bus.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var (
		mu  sync.Mutex
		got []bus.Record
	)
	err := b.Consume(ctx, "test-"+topic, []string{topic}, bus.ConsumeOptions{MaxBatch: 1000, MaxWait: time.Millisecond}, func(_ context.Context, batch []bus.Record) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, batch...)
		if done(got) {
			cancel()
		}
		return nil
	})
	require.NoError(t, err)
	require.True(t, done(got), "read %d records", len(got))
	return got
}

func countMessage(t *testing.T, recs []bus.Record, message string) int {
	t.Helper()
	n := 0
	for _, r := range recs {
		l, err := schema.DecodeLog(r.Value)
		require.NoError(t, err)
		if l.Message == message {
			n++
		}
	}
	return n
}

// metric reads one counter of reg by its name and label pairs.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
