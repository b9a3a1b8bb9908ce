package stream

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/bus/embedded"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// The stream fed by the real embedded bus: snapshot first, then only newer
// events in order, each tenant seeing its own.
func TestEndToEndWithEmbeddedBus(t *testing.T) {
	b, err := embedded.Open(t.TempDir(), embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	h := start(t, Config{}, b, &fixedStore{tasks: []store.Task{
		task(tenantA, "t1", "u1", 1000, 0),
		task(tenantB, "t1", "u1", 5000, 0),
	}})
	publish := func(events ...schema.Progress) {
		t.Helper()
		require.NoError(t, b.Publish(context.Background(), progressRecords(t, events...)...))
	}

	a := readAll(t, h.dial(t, "api_key="+keyA+"&task_id=t1&task_id=probe"))
	bb := readAll(t, h.dial(t, "api_key="+keyB+"&task_id=t1"))
	for _, c := range []<-chan serverMsg{a, a, bb} {
		require.Equal(t, TypeSnapshot, (<-c).Type)
	}
	// The bus hands the stream only what is published after Run
	// subscribed, which nothing reports; a probe that arrives proves it.
	for ts := int64(1); ; ts++ {
		publish(progress(tenantA, "probe", "", ts, 0, "probe"))
		select {
		case m := <-a:
			require.Equal(t, "probe", m.Event.TaskID)
		case <-time.After(20 * time.Millisecond):
			continue
		}
		break
	}

	publish(
		progress(tenantA, "t1", "u1", 900, 0, "a-older"),
		progress(tenantB, "t1", "u1", 2000, 0, "b-older"),
		progress(tenantA, "t1", "u1", 2000, 0, "a-1"),
		progress(tenantB, "t1", "u1", 6000, 0, "b-1"),
		progress(tenantA, "t1", "u1", 3000, 0, "a-2"),
		progress(tenantA, "t1", "u1", 2500, 0, "a-older"),
		progress(tenantA, "t1", "u1", 4000, 0, "a-3"),
	)
	next := func(c <-chan serverMsg) string {
		for m := range c {
			if m.Type == TypeProgress && m.Event.TaskID == "t1" {
				return m.Event.Message
			}
		}
		t.Fatal("connection closed")
		return ""
	}
	for _, want := range []string{"a-1", "a-2", "a-3"} {
		require.Equal(t, want, next(a))
	}
	require.Equal(t, "b-1", next(bb))
}

// Logs and notifications through the real embedded bus: a task's logs in
// order at the level asked for, notifications once, each tenant its own.
func TestLogsAndNotificationsWithEmbeddedBus(t *testing.T) {
	b, err := embedded.Open(t.TempDir(), embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	h := start(t, Config{}, b, &fixedStore{})
	publish := func(recs ...bus.Record) {
		t.Helper()
		require.NoError(t, b.Publish(context.Background(), recs...))
	}

	a := readAll(t, h.dial(t, "api_key="+keyA+"&logs_task_id=t1&logs_min_level=WARNING&notifications_user_id=u1"))
	bb := readAll(t, h.dial(t, "api_key="+keyB+"&logs_task_id=t1&notifications_user_id=u1"))
	for _, c := range []<-chan serverMsg{a, a, bb, bb} {
		require.Equal(t, TypeSubscribed, (<-c).Type)
	}
	// As in TestEndToEndWithEmbeddedBus, a probe that arrives proves that
	// Run has subscribed.
	for ts := int64(1); ; ts++ {
		publish(logRecords(t, logEntry(tenantA, "t1", schema.LevelError, ts, "probe"))...)
		select {
		case m := <-a:
			require.Equal(t, "probe", m.Log.Message)
		case <-time.After(20 * time.Millisecond):
			continue
		}
		break
	}

	publish(logRecords(t,
		logEntry(tenantA, "t1", schema.LevelInfo, 2000, "a-info"),
		logEntry(tenantB, "t1", schema.LevelInfo, 2000, "b-1"),
		logEntry(tenantA, "t1", schema.LevelWarning, 2001, "a-1"),
		logEntry(tenantA, "t1", schema.LevelCritical, 2002, "a-2"),
	)...)
	publish(notificationRecords(t,
		notification(tenantA, "n1", "u1"),
		notification(tenantB, "n2", "u1"),
		notification(tenantA, "n1", "u1"),
		notification(tenantA, "n3", "u1"),
	)...)
	// The two topics are read independently, so only each one's own
	// order is kept.
	var logs, notifications []string
	for len(logs) < 2 || len(notifications) < 2 {
		m := <-a
		switch {
		case m.Type == TypeLog && m.Log.Message != "probe":
			logs = append(logs, m.Log.Message)
		case m.Type == TypeNotification:
			notifications = append(notifications, m.Notification.ID)
		}
	}
	require.Equal(t, []string{"a-1", "a-2"}, logs)
	require.Equal(t, []string{"n1", "n3"}, notifications)

	logs, notifications = nil, nil
	for len(logs) < 1 || len(notifications) < 1 {
		m := <-bb
		switch m.Type {
		case TypeLog:
			logs = append(logs, m.Log.Message)
		case TypeNotification:
			notifications = append(notifications, m.Notification.ID)
		}
	}
	require.Equal(t, []string{"b-1"}, logs)
	require.Equal(t, []string{"n2"}, notifications)
}

// readAll reads a connection's messages into a channel, until the
// connection ends.
func readAll(t testing.TB, conn interface {
	ReadMessage() (int, []byte, error)
}) <-chan serverMsg {
	t.Helper()
	out := make(chan serverMsg, 100)
	go func() {
		defer close(out)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var m serverMsg
			if json.Unmarshal(data, &m) == nil {
				out <- m
			}
		}
	}()
	return out
}
