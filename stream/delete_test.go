package stream

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/bus/embedded"
	"github.com/taskpulse/taskpulse/internal/store/duckdb"
	"github.com/taskpulse/taskpulse/schema"
)

// A task's tombstone through the real embedded bus and DuckDB store, the
// store acting on it as the writer has it do: every connection that shows
// the task gets the "deleted" update, though the tombstone names no user,
// later events of the task from before it are stale, a newer one comes
// through, and a new snapshot leaves the task out.
func TestDeletedTaskLeavesTheStream(t *testing.T) {
	b, err := embedded.Open(t.TempDir(), embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	st, err := duckdb.Open("", duckdb.Options{Threads: 1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	// store and publish as the writer and the stream each see the bus.
	store := func(events ...schema.Progress) {
		t.Helper()
		require.NoError(t, st.InsertProgress(context.Background(), events))
	}
	publish := func(events ...schema.Progress) {
		t.Helper()
		require.NoError(t, b.Publish(context.Background(), progressRecords(t, events...)...))
	}
	store(progress(tenantA, "doomed", "u1", 1000, 0, "d-1"), progress(tenantA, "kept", "u1", 1100, 0, "k-1"))
	h := start(t, Config{}, b, st)

	byUser := readAll(t, h.dial(t, "api_key="+keyA+"&user_id=u1"))
	byTask := readAll(t, h.dial(t, "api_key="+keyA+"&task_id=doomed"))
	other := readAll(t, h.dial(t, "api_key="+keyA+"&user_id=u2&task_id=probe"))
	require.Len(t, (<-byUser).Tasks, 2)
	require.Len(t, (<-byTask).Tasks, 1)
	require.Empty(t, (<-other).Tasks)
	require.Empty(t, (<-other).Tasks)
	// A probe that arrives proves that Run has subscribed, as in
	// TestEndToEndWithEmbeddedBus.
	for ts := int64(1); ; ts++ {
		publish(progress(tenantA, "probe", "", ts, 0, "probe"))
		select {
		case m := <-other:
			require.Equal(t, "probe", m.Event.TaskID)
		case <-time.After(20 * time.Millisecond):
			continue
		}
		break
	}

	tomb := schema.Progress{Tenant: tenantA, EventID: "tomb", Timestamp: 2000, TaskID: "doomed", Status: schema.StatusDeleted}
	store(tomb)
	publish(tomb)
	for _, c := range []<-chan serverMsg{byUser, byTask} {
		m := <-c
		require.Equal(t, TypeProgress, m.Type)
		require.Equal(t, "doomed", m.Event.TaskID)
		require.Equal(t, schema.StatusDeleted, m.Event.Status)
	}

	late, newer := progress(tenantA, "doomed", "u1", 1500, 0, "late"), progress(tenantA, "kept", "u1", 2100, 0, "k-2")
	store(late, newer)
	publish(late, newer, progress(tenantA, "probe", "", 3000, 0, "after"))
	require.Equal(t, "k-2", (<-byUser).Event.Message, "an event from before the deletion came through")
	m := <-other
	require.Equal(t, "after", m.Event.Message, "a connection that never showed the task got its tombstone")
	require.Equal(t, []string{"kept/k-2"}, snapshotOf(t, h, "user_id=u1"))

	again := progress(tenantA, "doomed", "u1", 2500, 0, "again")
	store(again)
	publish(again)
	require.Equal(t, "again", (<-byUser).Event.Message)
	require.Equal(t, "again", (<-byTask).Event.Message)
	require.Equal(t, []string{"doomed/again", "kept/k-2"}, snapshotOf(t, h, "user_id=u1"))
}

// snapshotOf reads the snapshot of a new connection subscribed by query,
// as task/message pairs, newest first.
func snapshotOf(t *testing.T, h *harness, query string) []string {
	t.Helper()
	snap := readType(t, h.dial(t, "api_key="+keyA+"&"+query), TypeSnapshot)
	var tasks []string
	for _, task := range snap.Tasks {
		tasks = append(tasks, task.TaskID+"/"+task.Message)
	}
	return tasks
}
