package stream

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// testBus is the stream's input port fed by the test: every record the
// test publishes goes to every subscriber of its topic, in order, before
// publish returns.
type testBus struct {
	mu       sync.Mutex
	handlers map[int]subscriber
	next     int
}

type subscriber struct {
	topics []string
	h      bus.Handler
}

func newTestBus() *testBus { return &testBus{handlers: map[int]subscriber{}} }

func (b *testBus) Subscribe(ctx context.Context, topics []string, h bus.Handler) error {
	b.mu.Lock()
	id := b.next
	b.next++
	b.handlers[id] = subscriber{topics: topics, h: h}
	b.mu.Unlock()
	bus.Subscribed(ctx)
	<-ctx.Done()
	b.mu.Lock()
	delete(b.handlers, id)
	b.mu.Unlock()
	return nil
}

func (b *testBus) subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.handlers)
}

func (b *testBus) publishRecords(t testing.TB, recs ...bus.Record) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, sub := range b.handlers {
		var batch []bus.Record
		for _, r := range recs {
			if slices.Contains(sub.topics, r.Topic) {
				batch = append(batch, r)
			}
		}
		if len(batch) > 0 {
			require.NoError(t, sub.h(context.Background(), batch))
		}
	}
}

func (b *testBus) publish(t testing.TB, events ...schema.Progress) {
	t.Helper()
	b.publishRecords(t, progressRecords(t, events...)...)
}

func progressRecords(t testing.TB, events ...schema.Progress) []bus.Record {
	t.Helper()
	recs := make([]bus.Record, len(events))
	for i := range events {
		v, err := schema.EncodeProgress(&events[i])
		require.NoError(t, err)
		recs[i] = bus.Record{Topic: schema.TopicProgress, Key: []byte(events[i].TaskID), Value: v}
	}
	return recs
}

// logRecords encodes logs as ingest publishes them: keyed by task, with
// the tenant in a header.
func logRecords(t testing.TB, logs ...schema.Log) []bus.Record {
	t.Helper()
	recs := make([]bus.Record, len(logs))
	for i := range logs {
		v, err := schema.EncodeLog(&logs[i])
		require.NoError(t, err)
		recs[i] = bus.Record{
			Topic: schema.TopicLogs, Key: []byte(logs[i].TaskID), Value: v,
			Headers: map[string]string{schema.HeaderTenant: logs[i].Tenant},
		}
	}
	return recs
}

// notificationRecords encodes notifications as alerting publishes them:
// keyed by id, without a tenant header.
func notificationRecords(t testing.TB, ns ...schema.Notification) []bus.Record {
	t.Helper()
	recs := make([]bus.Record, len(ns))
	for i := range ns {
		v, err := schema.EncodeNotification(&ns[i])
		require.NoError(t, err)
		recs[i] = bus.Record{Topic: schema.TopicNotifications, Key: []byte(ns[i].ID), Value: v}
	}
	return recs
}

// fixedStore answers snapshots from a fixed list of tasks. When gate is
// set, every query waits for it, so a test can publish while a snapshot is
// being read.
type fixedStore struct {
	tasks   []store.Task
	gate    chan struct{}
	queries chan store.TaskFilter
}

func (s *fixedStore) Tasks(ctx context.Context, f store.TaskFilter) ([]store.Task, error) {
	if s.queries != nil {
		s.queries <- f
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var out []store.Task
	for _, t := range s.tasks {
		switch {
		case t.Tenant != f.Tenant:
		case len(f.TaskIDs) > 0 && !slices.Contains(f.TaskIDs, t.TaskID):
		case f.UserID != "" && f.UserID != t.UserID:
		case len(out) < f.Limit:
			out = append(out, t)
		}
	}
	return out, nil
}

// Tenants and their keys in every test server.
const (
	tenantA = "tenant-a"
	tenantB = "tenant-b"
	keyA    = "key-a"
	keyB    = "key-b"
)

type harness struct {
	svc  *Service
	addr string
	// stop ends Run and waits for it; the HTTP server stays up until the
	// test ends.
	stop func()
}

// start runs a stream service behind a real HTTP server on 127.0.0.1 and
// stops both when the test ends.
func start(t testing.TB, cfg Config, b Subscriber, st Snapshotter) *harness {
	t.Helper()
	return startWith(t, cfg, Deps{Bus: b, Store: st})
}

// startWith is start with deps, whose Bus and Store are required.
func startWith(t testing.TB, cfg Config, deps Deps) *harness {
	t.Helper()
	b := deps.Bus
	deps.Registerer = prometheus.NewRegistry()
	svc, err := New(cfg, deps)
	require.NoError(t, err)
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler, DisableStartupMessage: true})
	app.Use(auth.Keys{keyA: tenantA, keyB: tenantB}.Middleware())
	svc.Routes(app)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()

	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(ctx) }()
	h := &harness{svc: svc, addr: ln.Addr().String()}
	h.stop = sync.OnceFunc(func() {
		cancel()
		require.NoError(t, <-ran)
	})
	if tb, ok := b.(*testBus); ok {
		require.Eventually(t, func() bool { return tb.subscribers() == len(topics) }, 10*time.Second, time.Millisecond)
	}
	t.Cleanup(func() {
		h.stop()
		require.NoError(t, app.Shutdown())
		require.NoError(t, <-served)
	})
	return h
}

func (h *harness) url(query string) string {
	return "ws://" + h.addr + "/v1/stream?" + query
}

// dial connects a WebSocket client and closes it when the test ends.
func (h *harness) dial(t testing.TB, query string) *fws.Conn {
	t.Helper()
	return h.dialWith(t, fws.DefaultDialer, query)
}

func (h *harness) dialWith(t testing.TB, d *fws.Dialer, query string) *fws.Conn {
	t.Helper()
	conn, resp, err := d.Dial(h.url(query), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// serverMsg holds any server message.
type serverMsg struct {
	Type         string           `json:"type"`
	Subscription Subscription     `json:"subscription"`
	Tasks        []store.Task     `json:"tasks"`
	Truncated    bool             `json:"truncated"`
	Event        *schema.Progress `json:"event"`
	Code         string           `json:"code"`
	Message      string           `json:"message"`

	Logs          *LogSubscription          `json:"logs"`
	Notifications *NotificationSubscription `json:"notifications"`
	Log           *schema.Log               `json:"log"`
	Notification  *schema.Notification      `json:"notification"`
	TaskID        string                    `json:"task_id"`
	Count         int                       `json:"count"`
}

func read(t testing.TB, conn *fws.Conn) serverMsg {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, data, err := conn.ReadMessage()
	require.NoError(t, err)
	var m serverMsg
	require.NoError(t, json.Unmarshal(data, &m), "%s", data)
	return m
}

func readType(t testing.TB, conn *fws.Conn, typ string) serverMsg {
	t.Helper()
	m := read(t, conn)
	require.Equal(t, typ, m.Type, "%+v", m)
	return m
}

// readProgress reads the next message, which must be progress, and
// returns its event's message field, which tests use as a label.
func readProgress(t testing.TB, conn *fws.Conn) string {
	t.Helper()
	m := readType(t, conn, TypeProgress)
	require.Empty(t, m.Event.Tenant, "the tenant is not part of the protocol")
	return m.Event.Message
}

func send(t testing.TB, conn *fws.Conn, msg string) {
	t.Helper()
	require.NoError(t, conn.WriteMessage(fws.TextMessage, []byte(msg)))
}

// progress makes an event of tenant for task at timestamp ts; msg labels
// it for the test.
func progress(tenant, task, user string, ts, seq int64, msg string) schema.Progress {
	return schema.Progress{
		Tenant: tenant, EventID: task + "-" + msg, Timestamp: ts, Seq: seq,
		TaskID: task, UserID: user, Status: schema.StatusRunning, Message: msg,
	}
}

// logEntry makes a log of tenant for task; msg labels it for the test.
func logEntry(tenant, task string, level schema.Level, ts int64, msg string) schema.Log {
	return schema.Log{
		Tenant: tenant, EventID: task + "-" + msg, Timestamp: ts,
		TaskID: task, Level: level, Message: msg,
	}
}

// readLog reads the next message, which must be a log, and returns its
// message field.
func readLog(t testing.TB, conn *fws.Conn) string {
	t.Helper()
	m := readType(t, conn, TypeLog)
	require.Empty(t, m.Log.Tenant, "the tenant is not part of the protocol")
	return m.Log.Message
}

func notification(tenant, id, user string) schema.Notification {
	return schema.Notification{
		ID: id, Tenant: tenant, UserID: user, Rule: "task-failed", State: "firing",
		Severity: schema.SeverityWarning, Title: id, Body: "for " + user, CreatedAt: 1000,
	}
}

// readNotification reads the next message, which must be a notification,
// and returns its id.
func readNotification(t testing.TB, conn *fws.Conn) string {
	t.Helper()
	m := readType(t, conn, TypeNotification)
	require.Empty(t, m.Notification.Tenant, "the tenant is not part of the protocol")
	return m.Notification.ID
}

func task(tenant, id, user string, updatedAt, seq int64) store.Task {
	return store.Task{
		Tenant: tenant, TaskID: id, UserID: user, TaskName: tenant + "/" + id,
		Status: schema.StatusRunning, UpdatedAt: updatedAt, Seq: seq, EventID: id + "-snap",
	}
}

func dropped(s *Service, reason string) float64 {
	return value(s.metrics.dropped.WithLabelValues(reason))
}

// value reads a counter or gauge.
func value(m prometheus.Metric) float64 {
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		panic(err)
	}
	if out.Counter != nil {
		return out.Counter.GetValue()
	}
	return out.Gauge.GetValue()
}

// waitSubscriptions waits until the service has n subscriptions whose
// snapshots are queued.
func waitSubscriptions(t testing.TB, h *harness, n float64) {
	t.Helper()
	require.Eventually(t, func() bool {
		return value(h.svc.metrics.subscriptions) == n
	}, 10*time.Second, time.Millisecond)
}
