package client

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseControl(t *testing.T) {
	f := func(raw string, want []ControlRequest) {
		t.Helper()
		require.Equal(t, want, parseControl(json.RawMessage(raw)))
	}
	f(``, nil)
	f(`"cancel"`, nil)
	f(`{"a":"cancel"}`, nil)
	f(`[{"task_id":"a","action":"cancel","requested_at":"2026-12-04T06:20:00.000Z","requested_by":"ana"}]`,
		[]ControlRequest{{TaskID: "a", Action: "cancel", RequestedAt: time.Date(2026, 12, 4, 6, 20, 0, 0, time.UTC), RequestedBy: "ana"}})
}

func TestRetryAfter(t *testing.T) {
	f := func(v string, want time.Duration) {
		t.Helper()
		require.Equal(t, want, retryAfter(v))
	}
	f("", -1)
	f("soon", -1)
	f("3", 3*time.Second)
	f("-2", 0)
	f("Wed, 21 Oct 2015 07:28:00 GMT", 0)
}

func TestControlAnswerStopsTheNextUpdate(t *testing.T) {
	c, err := New(Config{URL: "http://127.0.0.1:1", FlushInterval: time.Hour})
	require.NoError(t, err)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		c.Close(ctx) // nothing listens: what is queued is given up
	}()
	task := c.Task("asked-to-stop", TaskInfo{})
	task.Start()
	c.control(json.RawMessage(`[{"task_id":"asked-to-stop","action":"cancel"}]`))
	require.True(t, task.CancelRequested())
	require.ErrorIs(t, task.Update(Update{Progress: Percent(50)}), ErrCancelled)
	require.Equal(t, uint64(1), c.Stats().Queued, "a refused update reports nothing")
}
