package stream

import (
	"fmt"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/schema"
)

// A task's logs arrive live, in order, at or above the level asked for;
// the level can be changed, and an unsubscribed task's logs stop.
func TestLiveLogsByLevelInOrder(t *testing.T) {
	b := newTestBus()
	h := start(t, Config{}, b, &fixedStore{})
	conn := h.dial(t, "api_key="+keyA+"&logs_task_id=t1&logs_min_level=warning")
	m := readType(t, conn, TypeSubscribed)
	require.Equal(t, &LogSubscription{TaskID: "t1", MinLevel: schema.LevelWarning}, m.Logs)

	b.publishRecords(t, logRecords(t,
		logEntry(tenantA, "t1", schema.LevelDebug, 1000, "debug"),
		logEntry(tenantA, "t1", schema.LevelWarning, 1001, "warning-1"),
		logEntry(tenantA, "t2", schema.LevelError, 1002, "other task"),
		logEntry(tenantA, "t1", schema.LevelInfo, 1003, "info"),
		logEntry(tenantA, "t1", schema.LevelCritical, 1004, "critical"),
		logEntry(tenantA, "t1", schema.LevelError, 999, "error, stamped earlier"),
		logEntry(tenantA, "t1", schema.LevelWarning, 1005, "warning-2"),
	)...)
	for _, want := range []string{"warning-1", "critical", "error, stamped earlier", "warning-2"} {
		require.Equal(t, want, readLog(t, conn))
	}

	// Subscribing again changes the level; logs of a second task come too.
	send(t, conn, `{"type":"subscribe","logs":{"task_id":"t1"}}`)
	require.Equal(t, &LogSubscription{TaskID: "t1", MinLevel: schema.LevelDebug}, readType(t, conn, TypeSubscribed).Logs)
	send(t, conn, `{"type":"subscribe","logs":{"task_id":"t2","min_level":"ERROR"}}`)
	require.Equal(t, &LogSubscription{TaskID: "t2", MinLevel: schema.LevelError}, readType(t, conn, TypeSubscribed).Logs)
	b.publishRecords(t, logRecords(t,
		logEntry(tenantA, "t1", schema.LevelDebug, 2000, "t1 debug"),
		logEntry(tenantA, "t2", schema.LevelWarning, 2001, "t2 warning"),
		logEntry(tenantA, "t2", schema.LevelError, 2002, "t2 error"),
		logEntry(tenantA, "", schema.LevelCritical, 2003, "no task"),
	)...)
	require.Equal(t, "t1 debug", readLog(t, conn))
	require.Equal(t, "t2 error", readLog(t, conn))

	send(t, conn, `{"type":"unsubscribe","logs":{"task_id":"t1"}}`)
	require.Equal(t, &LogSubscription{TaskID: "t1"}, readType(t, conn, TypeUnsubscribed).Logs)
	b.publishRecords(t, logRecords(t,
		logEntry(tenantA, "t1", schema.LevelCritical, 3000, "no longer followed"),
		logEntry(tenantA, "t2", schema.LevelCritical, 3001, "still followed"),
	)...)
	require.Equal(t, "still followed", readLog(t, conn))
	waitSubscriptions(t, h, 1)

	f := func(msg, code string) {
		t.Helper()
		send(t, conn, msg)
		require.Equal(t, code, readType(t, conn, TypeError).Code)
	}
	f(`{"type":"subscribe","logs":{}}`, CodeInvalidMessage)
	f(`{"type":"subscribe","logs":{"task_id":"t1","min_level":"LOUD"}}`, CodeInvalidMessage)
	f(`{"type":"subscribe","task_id":"t1","logs":{"task_id":"t1"}}`, CodeInvalidMessage)
	f(`{"type":"subscribe","logs":{"task_id":"t1"},"notifications":{"all":true}}`, CodeInvalidMessage)
	f(`{"type":"unsubscribe","logs":{"task_id":"t1"}}`, CodeNotSubscribed)
}

// Two tenants follow the logs of the same task id; each sees its own, and
// records of a tenant that follows no logs are passed over undecoded.
func TestLogsTenantIsolation(t *testing.T) {
	b := newTestBus()
	h := start(t, Config{}, b, &fixedStore{})
	a := h.dial(t, "api_key="+keyA+"&logs_task_id=t1")
	bb := h.dial(t, "api_key="+keyB+"&logs_task_id=t1")
	readType(t, a, TypeSubscribed)
	readType(t, bb, TypeSubscribed)

	b.publishRecords(t, logRecords(t,
		logEntry(tenantA, "t1", schema.LevelInfo, 1000, "for a"),
		logEntry(tenantB, "t1", schema.LevelInfo, 1000, "for b"),
		logEntry("tenant-c", "t1", schema.LevelInfo, 1000, "for c"),
		logEntry(tenantB, "t1", schema.LevelInfo, 1001, "for b again"),
		logEntry(tenantA, "t1", schema.LevelInfo, 1001, "for a again"),
	)...)
	require.Equal(t, "for a", readLog(t, a))
	require.Equal(t, "for a again", readLog(t, a))
	require.Equal(t, "for b", readLog(t, bb))
	require.Equal(t, "for b again", readLog(t, bb))

	garbage := func(tenant, task string) bus.Record {
		return bus.Record{Topic: schema.TopicLogs, Key: []byte(task), Value: []byte("{not json"),
			Headers: map[string]string{schema.HeaderTenant: tenant}}
	}
	b.publishRecords(t,
		garbage("tenant-c", "t1"), // a tenant nobody follows
		garbage(tenantA, "t9"),    // a task nobody of the tenant follows
		garbage(tenantA, "t1"),
		logRecords(t, logEntry(tenantA, "t1", schema.LevelInfo, 1002, "after"))[0],
	)
	require.Equal(t, "after", readLog(t, a))
	require.Equal(t, 1.0, dropped(h.svc, reasonUndecodable))
}

// A client that never reads loses logs, not its connection, and is told
// how many it lost per task at the place of each gap; a client that reads
// gets every log in order meanwhile.
func TestLogsDropAndTell(t *testing.T) {
	b := newTestBus()
	// A long write wait keeps the slow client connected, blocked in a
	// write, while the logs are published.
	h := start(t, Config{QueueSize: 4, WriteWait: time.Minute}, b, &fixedStore{})
	const query = "&logs_task_id=t1&logs_task_id=t2"
	slow := h.dialWith(t, smallBuffers, "api_key="+keyA+query)
	fast := h.dial(t, "api_key="+keyA+query)
	readType(t, fast, TypeSubscribed)
	readType(t, fast, TypeSubscribed)
	waitSubscriptions(t, h, 4)

	const n = 100
	padding := strings.Repeat("x", 128<<10)
	tasks := []string{"t1", "t2"}
	for i := range n {
		l := logEntry(tenantA, tasks[i%2], schema.LevelInfo, int64(1000+i), fmt.Sprint(i))
		l.Attributes = map[string]string{"padding": padding}
		b.publishRecords(t, logRecords(t, l)...)
		require.Equal(t, fmt.Sprint(i), readLog(t, fast))
	}
	lost := dropped(h.svc, reasonLogsDropped)
	require.Positive(t, lost)
	require.Zero(t, dropped(h.svc, reasonSlowConsumer))
	require.Equal(t, 2.0, value(h.svc.metrics.connections))

	// Per task, every log is either received or counted, in order: a
	// notice stands where its logs would have been.
	readType(t, slow, TypeSubscribed)
	readType(t, slow, TypeSubscribed)
	next := map[string]int{"t1": 0, "t2": 1} // the index of each task's next log
	told := 0
	for next["t1"] < n || next["t2"] < n {
		m := read(t, slow)
		switch m.Type {
		case TypeLog:
			require.Equal(t, fmt.Sprint(next[m.Log.TaskID]), m.Log.Message)
			next[m.Log.TaskID] += 2
		case TypeLogsDropped:
			require.Positive(t, m.Count)
			next[m.TaskID] += 2 * m.Count
			told += m.Count
		default:
			t.Fatalf("unexpected %+v", m)
		}
	}
	require.Equal(t, map[string]int{"t1": n, "t2": n + 1}, next)
	require.Equal(t, lost, float64(told))
}

func TestConnectErrorsForLogsAndNotifications(t *testing.T) {
	h := start(t, Config{MaxSubscriptions: 2}, newTestBus(), &fixedStore{})
	f := func(query string) {
		t.Helper()
		conn, resp, err := fws.DefaultDialer.Dial(h.url("api_key="+keyA+"&"+query), nil)
		if conn != nil {
			conn.Close()
		}
		require.ErrorIs(t, err, fws.ErrBadHandshake)
		requireErrorBody(t, resp, "invalid_parameter")
	}
	f("logs_task_id=")
	f("logs_task_id=t1&logs_min_level=LOUD")
	f("notifications_user_id=")
	f("notifications_all=maybe")
	f("task_id=t1&logs_task_id=t1&notifications_all=true")
}
