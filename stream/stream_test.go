package stream

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	fws "github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// The subscription is registered before the snapshot is read, so events
// published meanwhile are held, and after the snapshot only events newer
// than it arrive, in order.
func TestSnapshotThenOrderedLiveEvents(t *testing.T) {
	b := newTestBus()
	st := &fixedStore{
		tasks:   []store.Task{task(tenantA, "t1", "u1", 1000, 5)},
		gate:    make(chan struct{}),
		queries: make(chan store.TaskFilter, 1),
	}
	h := start(t, Config{}, b, st)
	conn := h.dial(t, "api_key="+keyA+"&task_id=t1")

	f := <-st.queries
	require.Equal(t, store.TaskFilter{Tenant: tenantA, TaskIDs: []string{"t1"}, Limit: 1}, f)
	b.publish(t,
		progress(tenantA, "t1", "u1", 900, 0, "older"),
		schema.Progress{Tenant: tenantA, EventID: "t1-snap", Timestamp: 1000, Seq: 5, TaskID: "t1", Status: schema.StatusRunning, Message: "the snapshot's own"},
		progress(tenantA, "t1", "u1", 1000, 6, "held-1"),
		progress(tenantA, "t2", "u1", 1050, 0, "other task"),
		progress(tenantA, "t1", "u1", 1100, 0, "held-2"),
	)
	close(st.gate)

	snap := readType(t, conn, TypeSnapshot)
	require.Equal(t, Subscription{TaskID: "t1"}, snap.Subscription)
	require.Len(t, snap.Tasks, 1)
	require.Equal(t, "t1", snap.Tasks[0].TaskID)
	require.Equal(t, "held-1", readProgress(t, conn))
	require.Equal(t, "held-2", readProgress(t, conn))

	b.publish(t,
		progress(tenantA, "t1", "u1", 1050, 0, "late"),
		progress(tenantA, "t1", "u1", 1200, 0, "live-1"),
		progress(tenantA, "t1", "u1", 1200, 0, "live-1"), // redelivered
		progress(tenantA, "t1", "u1", 1300, 0, "live-2"),
	)
	require.Equal(t, "live-1", readProgress(t, conn))
	require.Equal(t, "live-2", readProgress(t, conn))
	require.Equal(t, 4.0, dropped(h.svc, reasonStale))
}

func TestSubscribeAndUnsubscribeMessages(t *testing.T) {
	b := newTestBus()
	st := &fixedStore{tasks: []store.Task{
		task(tenantA, "t1", "u1", 1000, 0),
		task(tenantA, "t2", "u1", 1000, 0),
		task(tenantA, "t3", "u2", 1000, 0),
	}}
	h := start(t, Config{MaxSubscriptions: 3}, b, st)
	conn := h.dial(t, "api_key="+keyA)

	send(t, conn, `{"type":"subscribe","task_id":"t1"}`)
	snap := readType(t, conn, TypeSnapshot)
	require.Equal(t, Subscription{TaskID: "t1"}, snap.Subscription)
	require.Len(t, snap.Tasks, 1)

	send(t, conn, `{"type":"subscribe","user_id":"u1"}`)
	snap = readType(t, conn, TypeSnapshot)
	require.Equal(t, Subscription{UserID: "u1"}, snap.Subscription)
	require.Len(t, snap.Tasks, 2)

	send(t, conn, `{"type":"subscribe","all":true}`)
	snap = readType(t, conn, TypeSnapshot)
	require.Equal(t, Subscription{All: true}, snap.Subscription)
	require.Len(t, snap.Tasks, 3)

	// Every error is answered with its code, and the connection stays open.
	f := func(msg, code string) {
		t.Helper()
		send(t, conn, msg)
		m := readType(t, conn, TypeError)
		require.Equal(t, code, m.Code)
		require.NotEmpty(t, m.Message)
	}
	f(`{"type":"subscribe","task_id":"t1"}`, CodeAlreadySubscribed)
	f(`{"type":"subscribe","task_id":"t9"}`, CodeTooManySubscriptions)
	f(`{"type":"subscribe"`, CodeInvalidJSON)
	f(`[1,2]`, CodeInvalidJSON)
	f(`{"type":"publish","task_id":"t1"}`, CodeInvalidMessage)
	f(`{"type":"subscribe"}`, CodeInvalidMessage)
	f(`{"type":"subscribe","task_id":"t1","user_id":"u1"}`, CodeInvalidMessage)
	f(`{"type":"unsubscribe","task_id":"t9"}`, CodeNotSubscribed)

	// An event several subscriptions match arrives once.
	b.publish(t, progress(tenantA, "t1", "u1", 2000, 0, "matches three"))
	require.Equal(t, "matches three", readProgress(t, conn))

	send(t, conn, `{"type":"unsubscribe","all":true}`)
	require.Equal(t, Subscription{All: true}, readType(t, conn, TypeUnsubscribed).Subscription)
	send(t, conn, `{"type":"unsubscribe","user_id":"u1"}`)
	require.Equal(t, Subscription{UserID: "u1"}, readType(t, conn, TypeUnsubscribed).Subscription)
	b.publish(t,
		progress(tenantA, "t3", "u2", 3000, 0, "no longer followed"),
		progress(tenantA, "t2", "u1", 3000, 0, "no longer followed"),
		progress(tenantA, "t1", "u1", 3000, 0, "still followed"),
	)
	require.Equal(t, "still followed", readProgress(t, conn))
	waitSubscriptions(t, h, 1)
}

func TestQuerySubscriptions(t *testing.T) {
	b := newTestBus()
	st := &fixedStore{tasks: []store.Task{
		task(tenantA, "a", "u0", 1000, 0),
		task(tenantA, "c", "u", 1000, 0),
	}}
	h := start(t, Config{}, b, st)
	conn := h.dial(t, "api_key="+keyA+"&task_id=a&task_id=b&user_id=u")

	for _, want := range []struct {
		sub   Subscription
		tasks int
	}{{Subscription{TaskID: "a"}, 1}, {Subscription{TaskID: "b"}, 0}, {Subscription{UserID: "u"}, 1}} {
		snap := readType(t, conn, TypeSnapshot)
		require.Equal(t, want.sub, snap.Subscription)
		require.Len(t, snap.Tasks, want.tasks)
		require.NotNil(t, snap.Tasks, "an empty snapshot is [], not null")
	}
	b.publish(t,
		progress(tenantA, "d", "u0", 2000, 0, "d"),
		progress(tenantA, "a", "u0", 2000, 0, "a"),
		progress(tenantA, "b", "u1", 2000, 0, "b"),
		progress(tenantA, "c", "u", 2000, 0, "c"),
	)
	for _, want := range []string{"a", "b", "c"} {
		require.Equal(t, want, readProgress(t, conn))
	}
}

func TestConnectErrors(t *testing.T) {
	h := start(t, Config{MaxSubscriptions: 2}, newTestBus(), &fixedStore{})

	f := func(query string, status int, code string) {
		t.Helper()
		conn, resp, err := fws.DefaultDialer.Dial(h.url(query), nil)
		if conn != nil {
			conn.Close()
		}
		require.ErrorIs(t, err, fws.ErrBadHandshake)
		require.Equal(t, status, resp.StatusCode)
		requireErrorBody(t, resp, code)
	}
	f("api_key="+keyA+"&all=maybe", http.StatusBadRequest, "invalid_parameter")
	f("api_key="+keyA+"&task_id=", http.StatusBadRequest, "invalid_parameter")
	f("api_key="+keyA+"&task_id=a&task_id=b&user_id=c", http.StatusBadRequest, "invalid_parameter")
	f("api_key=wrong", http.StatusUnauthorized, "unauthorized")

	resp, err := http.Get("http://" + h.addr + "/v1/stream?api_key=" + keyA)
	require.NoError(t, err)
	require.Equal(t, http.StatusUpgradeRequired, resp.StatusCode)
	require.Equal(t, "websocket", resp.Header.Get("Upgrade"))
	requireErrorBody(t, resp, CodeUpgradeRequired)
}

func requireErrorBody(t testing.TB, resp *http.Response, code string) {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var e struct {
		Error struct{ Code, Message string }
	}
	require.NoError(t, json.Unmarshal(body, &e), "%s", body)
	require.Equal(t, code, e.Error.Code, "%s", body)
	require.NotEmpty(t, e.Error.Message)
}

// Two tenants use the same task and user ids; each sees only its own.
func TestTenantIsolation(t *testing.T) {
	b := newTestBus()
	st := &fixedStore{tasks: []store.Task{
		task(tenantA, "t1", "u1", 1000, 0),
		task(tenantB, "t1", "u1", 1000, 0),
	}}
	h := start(t, Config{}, b, st)

	for _, query := range []string{"task_id=t1", "user_id=u1", "all=true"} {
		t.Run(query, func(t *testing.T) {
			a := h.dial(t, "api_key="+keyA+"&"+query)
			bb := h.dial(t, "api_key="+keyB+"&"+query)
			for conn, tenant := range map[*fws.Conn]string{a: tenantA, bb: tenantB} {
				snap := readType(t, conn, TypeSnapshot)
				require.Len(t, snap.Tasks, 1)
				require.Equal(t, tenant+"/t1", snap.Tasks[0].TaskName)
			}
			b.publish(t,
				progress(tenantA, "t1", "u1", 2000, 0, "for a"),
				progress(tenantB, "t1", "u1", 2000, 0, "for b"),
				progress(tenantB, "t1", "u1", 3000, 0, "for b again"),
				progress(tenantA, "t1", "u1", 3000, 0, "for a again"),
			)
			require.Equal(t, "for a", readProgress(t, a))
			require.Equal(t, "for a again", readProgress(t, a))
			require.Equal(t, "for b", readProgress(t, bb))
			require.Equal(t, "for b again", readProgress(t, bb))
		})
	}
}

// A record the stream cannot decode is counted and skipped; the next one
// still arrives.
func TestUndecodableRecordsAreSkipped(t *testing.T) {
	b := newTestBus()
	h := start(t, Config{}, b, &fixedStore{})
	conn := h.dial(t, "api_key="+keyA+"&all=true")
	readType(t, conn, TypeSnapshot)

	good := progressRecords(t, progress(tenantA, "t1", "", 1000, 0, "good"))
	b.publishRecords(t,
		bus.Record{Topic: schema.TopicProgress, Value: []byte("{not json")},
		bus.Record{Topic: schema.TopicProgress, Value: []byte(`{"task_id":"t1","status":"running"}`)},
		good[0],
	)
	require.Equal(t, "good", readProgress(t, conn))
	require.Equal(t, 2.0, dropped(h.svc, reasonUndecodable))

	// A record whose tenant header names a tenant nobody follows is passed
	// over before decoding, so it is not even counted.
	b.publishRecords(t,
		bus.Record{Topic: schema.TopicProgress, Value: []byte("{not json"), Headers: map[string]string{schema.HeaderTenant: "nobody"}},
		bus.Record{Topic: schema.TopicProgress, Value: []byte("{not json"), Headers: map[string]string{schema.HeaderTenant: tenantA}},
		progressRecords(t, progress(tenantA, "t1", "", 2000, 0, "after"))[0],
	)
	require.Equal(t, "after", readProgress(t, conn))
	require.Equal(t, 3.0, dropped(h.svc, reasonUndecodable))
}
