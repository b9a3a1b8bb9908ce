package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/bus/embedded"
	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/duckdb"
	"github.com/taskpulse/taskpulse/schema"
)

const patience = 10 * time.Second

// testStore is every store interface alerting reads and writes.
type testStore interface {
	store.Store
	store.DocumentStore
	store.LogStore
	store.MetricStore
}

// storeOpener opens an empty store for one test, closed when it ends.
type storeOpener func(t testing.TB, dir string) testStore

func openDuckDB(t testing.TB, dir string) testStore {
	st, err := duckdb.Open(filepath.Join(dir, "store.duckdb"), duckdb.Options{Threads: 1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	return st
}

// env is what alerting services of one test share: a real embedded bus,
// a real store (DuckDB unless the test says) and a rules file.
type env struct {
	bus   *embedded.Bus
	store testStore
	rules string
	// series and logs are the metric and log readers of the services
	// started; none when nil.
	series SeriesReader
	logs   LogReader
	// registerer, when set, receives the metrics of the services started.
	registerer prometheus.Registerer
	// keys, when set, are the API keys of the services started; without
	// them every request is the default tenant's.
	keys auth.Keys
	// logger, when set, is the logger of the services started.
	logger *slog.Logger
	// documents, when set, is the document store of the services
	// started, in place of store.
	documents store.DocumentStore
	// control, when set, holds the tasks' control requests.
	control *control.Registry
}

func newEnv(t testing.TB, rulesYAML string) *env {
	t.Helper()
	return newEnvOn(t, openDuckDB, rulesYAML)
}

func newEnvOn(t testing.TB, open storeOpener, rulesYAML string) *env {
	t.Helper()
	dir := t.TempDir()
	st := open(t, dir)
	b, err := embedded.Open(filepath.Join(dir, "bus"), embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	e := &env{bus: b, store: st, rules: filepath.Join(dir, "rules.yaml")}
	e.writeRules(t, rulesYAML)
	return e
}

func (e *env) writeRules(t testing.TB, yaml string) {
	t.Helper()
	require.NoError(t, os.WriteFile(e.rules, []byte(yaml), 0o644))
}

// testConfig makes everything quick, so tests wait milliseconds.
func (e *env) testConfig() Config {
	return Config{
		RulesFile:         e.rules,
		TaskCheckInterval: 20 * time.Millisecond,
		RefreshInterval:   100 * time.Millisecond,
		Delivery:          DeliveryConfig{MaxAttempts: 5, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond},
	}
}

// service is an alerting Service running with its API on a loopback port.
type service struct {
	*Service
	base string
	stop func()
}

func (e *env) start(t testing.TB) *service {
	t.Helper()
	return e.startWith(t, e.testConfig())
}

func (e *env) startWith(t testing.TB, cfg Config) *service {
	t.Helper()
	deps := Deps{Bus: e.bus, Documents: e.store, Tasks: e.store, Series: e.series, Logs: e.logs, Registerer: e.registerer, Logger: e.logger, Control: e.control}
	if e.documents != nil {
		deps.Documents = e.documents
	}
	svc, err := New(cfg, deps)
	require.NoError(t, err)
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler, DisableStartupMessage: true})
	svc.Routes(app.Group("", e.keys.Middleware()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	runDone, httpDone := make(chan error, 1), make(chan error, 1)
	go func() { runDone <- svc.Run(ctx) }()
	go func() { httpDone <- app.Listener(ln) }()
	s := &service{Service: svc, base: "http://" + ln.Addr().String()}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-runDone)
			require.NoError(t, app.Shutdown())
			require.NoError(t, <-httpDone)
		})
	}
	t.Cleanup(s.stop)
	return s
}

// call sends a request to the service's API and decodes a JSON answer.
func (s *service) call(t testing.TB, method, path, body string) (int, map[string]any) {
	t.Helper()
	contentType := ""
	if body != "" {
		contentType = "application/json"
	}
	return s.as(t, "", method, path, contentType, body)
}

// as sends a request with an API key and a content type, and decodes a
// JSON answer.
func (s *service) as(t testing.TB, key, method, path, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	}
	return resp.StatusCode, out
}

// details maps the fields (or parameters) an error answer names to their
// reasons.
func details(t testing.TB, body map[string]any) map[string]string {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	require.True(t, ok, "not an error answer: %v", body)
	out := map[string]string{}
	ds, _ := e["details"].([]any)
	for _, d := range ds {
		m := d.(map[string]any)
		name, _ := m["field"].(string)
		if p, ok := m["parameter"].(string); ok {
			name = p
		}
		out[name] = m["reason"].(string)
	}
	return out
}

// waitAs waits for the notification of a rule and group of the tenant of
// key to reach state on every channel, and returns it.
func (s *service) waitAs(t testing.TB, key, rule, group string, want schema.DeliveryState) schema.Notification {
	t.Helper()
	return s.waitNotification(t, key, rule, group, "", want)
}

// logBuffer is a log destination tests read back.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the lines logged that contain every one of parts.
func (b *logBuffer) lines(parts ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
next:
	for _, l := range strings.Split(b.buf.String(), "\n") {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

func (s *service) notifications(t testing.TB, query string) []schema.Notification {
	t.Helper()
	return s.notificationsAs(t, "", query)
}

// notificationsAs lists the notifications of the tenant of key.
func (s *service) notificationsAs(t testing.TB, key, query string) []schema.Notification {
	t.Helper()
	status, body := s.as(t, key, http.MethodGet, "/v1/notifications?"+query, "", "")
	require.Equal(t, http.StatusOK, status, body)
	raw, err := json.Marshal(body["notifications"])
	require.NoError(t, err)
	var out []schema.Notification
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

// taskEvent publishes one progress event on the bus and stores it, as
// ingest and the writer would.
func (e *env) taskEvent(t testing.TB, p schema.Progress) {
	t.Helper()
	if p.Tenant == "" {
		p.Tenant = auth.DefaultTenant
	}
	if p.EventID == "" {
		p.EventID = fmt.Sprintf("%s-%d-%s", p.TaskID, time.Now().UnixNano(), p.Status)
	}
	if p.Timestamp == 0 {
		p.Timestamp = time.Now().UnixMilli()
	}
	if p.TaskType == "" {
		p.TaskType = "create_skill"
	}
	if p.UserID == "" {
		p.UserID = "u1"
	}
	raw, err := schema.EncodeProgress(&p)
	require.NoError(t, err)
	// Published first, as ingest does before the writer stores it: the
	// evaluator sees the event as fresh as its timestamp says, however
	// long the store takes.
	require.NoError(t, e.bus.Publish(context.Background(), bus.Record{Topic: schema.TopicProgress, Key: []byte(p.TaskID), Value: raw}))
	require.NoError(t, e.store.InsertProgress(context.Background(), []schema.Progress{p}))
}

// received is one request a receiver took.
type received struct {
	at     time.Time
	header http.Header
	body   []byte
}

// receiver is a real HTTP server that records requests and answers as
// answer says for the n-th of them (from 1).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int, w http.ResponseWriter) int
}

// hookRules is a rules file whose rules, YAML list items, may send to
// one webhook channel, hook, that r receives.
func hookRules(r *receiver, rules string) string {
	return "channels:\n  hook: {type: webhook, url: " + r.URL + "}\nrules:\n" + rules
}

func newReceiver(t testing.TB, answer func(n int, w http.ResponseWriter) int) *receiver {
	t.Helper()
	r := &receiver{answer: answer}
	if r.answer == nil {
		r.answer = func(int, http.ResponseWriter) int { return http.StatusOK }
	}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{time.Now(), req.Header.Clone(), body})
		n, answer := len(r.got), r.answer
		r.mu.Unlock()
		w.WriteHeader(answer(n, w))
	}))
	t.Cleanup(func() {
		r.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func (r *receiver) setAnswer(f func(n int, w http.ResponseWriter) int) {
	r.mu.Lock()
	r.answer = f
	r.mu.Unlock()
}

// waitRequests waits until the receiver holds n requests, and returns them.
func (r *receiver) waitRequests(t testing.TB, n int) []received {
	t.Helper()
	require.Eventually(t, func() bool { return len(r.requests()) >= n }, patience, 5*time.Millisecond,
		"receiver got %d requests, want %d", len(r.requests()), n)
	return r.requests()
}

func decodeNotification(t testing.TB, body []byte) schema.Notification {
	t.Helper()
	var n schema.Notification
	require.NoError(t, json.Unmarshal(body, &n), string(body))
	return n
}

// waitDelivery waits until the notification of a rule and group reaches
// state on every channel, and returns it.
func (s *service) waitDelivery(t testing.TB, rule, group, state string, want schema.DeliveryState) schema.Notification {
	t.Helper()
	return s.waitNotification(t, "", rule, group, state, want)
}

// waitNotification waits for the notification of a rule and group, of the
// tenant of key and in state (any when ""), to reach want on every
// channel, and returns it.
func (s *service) waitNotification(t testing.TB, key, rule, group, state string, want schema.DeliveryState) schema.Notification {
	t.Helper()
	var found schema.Notification
	require.Eventually(t, func() bool {
		for _, n := range s.notificationsAs(t, key, "") {
			if n.Rule != rule || n.GroupKey != group || state != "" && n.State != state {
				continue
			}
			found = n
			for _, d := range n.Deliveries {
				if d.State != want {
					return false
				}
			}
			return true
		}
		return false
	}, patience, 10*time.Millisecond, "notification %s/%s %s never reached %s: %+v", rule, group, state, want, found)
	return found
}

// fixedSeries is a SeriesReader that answers every query with the series
// a test sets.
type fixedSeries struct {
	mu     sync.Mutex
	series []store.Series
	asked  []store.SeriesQuery
}

func (f *fixedSeries) set(series ...store.Series) {
	f.mu.Lock()
	f.series = series
	f.mu.Unlock()
}

func (f *fixedSeries) MetricSeries(_ context.Context, q store.SeriesQuery) ([]store.Series, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, q)
	return f.series, nil
}

// fixedLogs is a LogReader holding logs a test adds. It filters as a
// store would, on what rules use.
type fixedLogs struct {
	mu   sync.Mutex
	logs []schema.Log
}

func (f *fixedLogs) add(l ...schema.Log) {
	f.mu.Lock()
	f.logs = append(f.logs, l...)
	f.mu.Unlock()
}

func (f *fixedLogs) Logs(_ context.Context, q store.LogFilter) ([]schema.Log, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []schema.Log
	for _, l := range f.logs {
		if l.Tenant == q.Tenant && l.Level.Rank() >= q.MinLevel.Rank() && l.Timestamp >= q.Since && l.Timestamp < q.Until && len(out) < q.Limit {
			out = append(out, l)
		}
	}
	return out, nil
}
