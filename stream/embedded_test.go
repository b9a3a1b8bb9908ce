package stream

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
