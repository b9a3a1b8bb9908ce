package control

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

func asked(task string, action Action, at int64) Request {
	return Request{Tenant: "acme", TaskID: task, UserID: "u1", ID: "req-" + task, Action: action,
		RequestedAt: at, RequestedBy: "ana", AckDeadline: at + 30_000, Version: NewVersion(at, 0)}
}

func event(task string, status schema.Status, at int64) *schema.Progress {
	return &schema.Progress{Tenant: "acme", TaskID: task, Status: status, Timestamp: at}
}

// TestRequestLifecycle: a request is pending until the status it asks for
// acknowledges it or a terminal one ends it; records applied again or out
// of order change nothing; a tombstone forgets it.
func TestRequestLifecycle(t *testing.T) {
	g := NewRegistry(nil, nil, nil)
	ctx := context.Background()
	r := asked("t1", Pause, 1_000)
	require.True(t, g.Apply(r))
	require.False(t, g.Apply(r), "a record applied twice")
	require.True(t, g.Waiting())

	g.Observe(ctx, event("t1", schema.StatusRunning, 1_500)) // not what it asks
	require.Len(t, g.Deliveries(nil, "acme", 1, func(int) (string, schema.Status) { return "t1", schema.StatusRunning }), 1)
	require.Empty(t, g.Deliveries(nil, "acme", 1, func(int) (string, schema.Status) { return "t1", schema.StatusPaused }),
		"the report that acknowledges is not asked again")
	require.Empty(t, g.Deliveries(nil, "globex", 1, func(int) (string, schema.Status) { return "t1", schema.StatusRunning }))

	g.Observe(ctx, event("t1", schema.StatusPaused, 2_000))
	got, ok := g.Get("acme", "t1")
	require.True(t, ok)
	require.Equal(t, int64(2_000), got.AcknowledgedAt)
	require.False(t, g.Waiting())
	require.False(t, g.Apply(r), "the asked state does not undo the acknowledgement")
	require.NotNil(t, g.View("acme", "t1", 99_000).AcknowledgedAt)
	require.False(t, g.View("acme", "t1", 99_000).Unacknowledged, "acknowledged, however late the read")

	g.Observe(ctx, event("t1", schema.StatusDeleted, 3_000))
	_, ok = g.Get("acme", "t1")
	require.False(t, ok)

	// A task that ends another way ends its request: not overdue.
	end := asked("t2", Cancel, 1_000)
	g.Apply(end)
	g.Observe(ctx, event("t2", schema.StatusCompleted, 2_000))
	got, _ = g.Get("acme", "t2")
	require.True(t, got.Ended)
	require.False(t, got.Overdue(1_000_000))
}

// TestViewShowsTheDeadline: the view's times are RFC 3339, and a pending
// request past its deadline says so.
func TestViewShowsTheDeadline(t *testing.T) {
	r := asked("t1", Cancel, time.Date(2026, 12, 4, 6, 20, 0, 0, time.UTC).UnixMilli())
	v := r.View(r.AckDeadline - 1)
	require.False(t, v.Unacknowledged)
	require.True(t, r.View(r.AckDeadline).Unacknowledged)
	b, err := v.RequestedAt.MarshalJSON()
	require.NoError(t, err)
	require.Equal(t, `"2026-12-04T06:20:00.000Z"`, string(b))
	var back Time
	require.NoError(t, back.UnmarshalJSON(b))
	require.Equal(t, v.RequestedAt, back)
}

// TestNewerRequestReplacesTheOlder: a task keeps its latest request,
// whatever state the earlier one reached.
func TestNewerRequestReplacesTheOlder(t *testing.T) {
	g := NewRegistry(nil, nil, nil)
	first := asked("t1", Pause, 1_000)
	g.Apply(first)
	g.Observe(context.Background(), event("t1", schema.StatusPaused, 1_200))
	acked, _ := g.Get("acme", "t1")
	second := asked("t1", Resume, 1_000) // the same millisecond
	second.Version = NewVersion(1_000, acked.Version)
	require.True(t, g.Apply(second))
	got, _ := g.Get("acme", "t1")
	require.Equal(t, Resume, got.Action)
	require.True(t, got.Pending())
}

// TestWaitReturnsOnRequest: a waiter wakes on a request of its task and
// gives up at its context's end.
func TestWaitReturnsOnRequest(t *testing.T) {
	g := NewRegistry(nil, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, ok := g.Wait(ctx, "acme", "t1")
	require.False(t, ok)

	got := make(chan Request, 1)
	go func() {
		r, _ := g.Wait(context.Background(), "acme", "t1")
		got <- r
	}()
	g.Apply(asked("t2", Cancel, 1_000)) // another task: the waiter sleeps on
	g.Apply(asked("t1", Cancel, 1_000))
	require.Equal(t, "t1", (<-got).TaskID)
	require.Len(t, g.Pending("acme", func(r *Request) bool { return r.UserID == "u1" }), 2)
}
