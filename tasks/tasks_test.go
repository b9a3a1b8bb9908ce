package tasks

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

func TestAllowed(t *testing.T) {
	f := func(from, to schema.Status, update, want bool) {
		t.Helper()
		require.Equal(t, want, allowed(from, to, update), "%s -> %s (update %v)", from, to, update)
	}
	f(schema.StatusRunning, schema.StatusRunning, true, true)   // a progress update
	f(schema.StatusRunning, schema.StatusRunning, false, false) // resuming a running task
	f(schema.StatusPaused, schema.StatusRunning, false, true)
	f(schema.StatusPaused, schema.StatusCompleted, false, false)
	f(schema.StatusCancelled, schema.StatusCompleted, false, false)
	f(schema.StatusCompleted, schema.StatusCompleted, true, false) // finished: not even an update
	f(schema.StatusDeleted, schema.StatusRunning, true, false)
}

func TestViewDropsTheLeastRecentlyUsed(t *testing.T) {
	v := newView(2)
	put := func(id string) { v.put(taskKey{"t", id}, store.Task{TaskID: id}, nil) }
	put("a")
	put("b")
	_, ok := v.get(taskKey{"t", "a"}) // a is now the most recent
	require.True(t, ok)
	put("c")
	_, ok = v.get(taskKey{"t", "b"})
	require.False(t, ok, "b was the least recently used")
	for _, id := range []string{"a", "c"} {
		_, ok = v.get(taskKey{"t", id})
		require.True(t, ok, id)
	}
	_, ok = v.get(taskKey{"other", "a"})
	require.False(t, ok, "tasks are per tenant")
}

// TestStampComesAfterTheTaskState: a change follows the state it was
// made from even when that state's clock is ahead of this process's.
func TestStampComesAfterTheTaskState(t *testing.T) {
	s := &Service{}
	now := time.UnixMilli(1_800_000_000_000)
	f := func(cur store.Task) {
		t.Helper()
		var e schema.Progress
		s.stamp(&e, "t", &cur, now, s.reserveOrder(now, 1))
		require.True(t, e.Order().After(cur.Order()), "%+v after %+v", e.Order(), cur.Order())
	}
	f(store.Task{UpdatedAt: now.UnixMilli() - 1})
	f(store.Task{UpdatedAt: now.UnixMilli(), Seq: 9, IngestOrder: now.UnixNano() + 1e9})
	f(store.Task{UpdatedAt: now.UnixMilli() + 60_000, Seq: 3, IngestOrder: 7, EventID: "ffff"})
}

func TestOperationEventKeepsWhatItDoesNotSend(t *testing.T) {
	progress, msg := 40.0, "half way"
	cur := store.Task{TaskID: "t1", UserID: "u", TaskName: "n", Status: schema.StatusRunning, Message: "old",
		Progress: 10, ProgressAt: 5, Attributes: map[string]string{"a": "1", "b": "2"}}
	op := operation{Op: opUpdate, Progress: &progress, Message: &msg, Attributes: map[string]string{"b": "3"}}
	e := op.event("t1", &cur)
	require.Equal(t, "u", e.UserID)
	require.Equal(t, "n", e.TaskName)
	require.Equal(t, msg, e.Message)
	require.Equal(t, 40.0, *e.Progress)
	require.Equal(t, map[string]string{"a": "1", "b": "3"}, e.Attributes)
	require.Equal(t, map[string]string{"a": "1", "b": "2"}, cur.Attributes, "the state it was made from is left alone")

	e = (&operation{Op: opPause}).event("t1", &cur)
	require.Equal(t, schema.StatusPaused, e.Status)
	require.Nil(t, e.Progress, "an event without progress keeps the task's, and when it was reported")
}
