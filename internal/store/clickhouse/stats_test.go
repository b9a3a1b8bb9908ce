package clickhouse_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// TestStatsIgnoresCopiesWithOtherContent checks what the conformance suite
// cannot reach of the span summary (schema/clickhouse/0012_task_spans.sql):
// a stored event sent again with another timestamp or status, as a retried
// request stamped again or a client reusing an event_id sends it, changes
// no statistic, since the copy stored first wins, and identical copies
// change none either.
func TestStatsIgnoresCopiesWithOtherContent(t *testing.T) {
	s := openStore(t, freshConfig(t), nil)
	ctx := t.Context()
	step := int64(time.Minute / time.Millisecond)
	from := time.Now().UnixMilli() - 10*step
	from -= from % step
	to := from + 3*step
	ev := func(task, id string, ts int64, status schema.Status) schema.Progress {
		return schema.Progress{Tenant: "acme", TaskID: task, EventID: id, Timestamp: ts, Status: status, UserID: "u", TaskType: "build"}
	}
	first := []schema.Progress{
		ev("t1", "a", from+1000, schema.StatusRunning),
		ev("t1", "b", from+61_000, schema.StatusCompleted),
		ev("t2", "c", from+2000, schema.StatusRunning),
		ev("t2", "d", from+3000, schema.StatusRunning),
	}
	require.NoError(t, s.InsertProgress(ctx, first))
	q := store.StatsQuery{Tenant: "acme", From: from, To: to, Step: step}
	want, err := s.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, int64(1), want.ByStatus[schema.StatusCompleted])

	require.NoError(t, s.InsertProgress(ctx, first))
	got, err := s.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, want, got, "a redelivered batch changed the statistics")

	require.NoError(t, s.InsertProgress(ctx, []schema.Progress{
		ev("t1", "b", from+150_000, schema.StatusCompleted), // retried, stamped again
		ev("t2", "d", from+100_000, schema.StatusFailed),    // other content
		ev("t2", "c", from-50_000, schema.StatusPending),
	}))
	got, err = s.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, want, got, "copies with other content changed the statistics")
}

// TestStatsFollowsChangesAfterSnapshot checks the snapshots Stats reads
// (schema/clickhouse/0015_task_snapshots.sql): the first read of a tenant
// writes its tasks' spans back, and an event stored after that still
// counts, since the task it changed is computed again from its events.
func TestStatsFollowsChangesAfterSnapshot(t *testing.T) {
	cfg := freshConfig(t)
	s := openStore(t, cfg, nil)
	ctx := t.Context()
	step := int64(time.Minute / time.Millisecond)
	from := time.Now().UnixMilli() - 10*step
	from -= from % step
	q := store.StatsQuery{Tenant: "acme", From: from, To: from + 3*step, Step: step}
	ev := func(id string, ts int64, status schema.Status) schema.Progress {
		return schema.Progress{Tenant: "acme", TaskID: "t1", EventID: id, Timestamp: ts, Status: status, UserID: "u", TaskType: "build"}
	}
	require.NoError(t, s.InsertProgress(ctx, []schema.Progress{ev("a", from+1000, schema.StatusRunning)}))
	st, err := s.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, map[schema.Status]int64{schema.StatusRunning: 1}, st.ByStatus)

	admin := adminConn(t, cfg.Database)
	defer admin.Close()
	var snapshots uint64
	require.NoError(t, admin.QueryRow(ctx, "SELECT count() FROM task_snapshots WHERE tenant = 'acme'").Scan(&snapshots))
	require.Equal(t, uint64(1), snapshots, "the first read writes the span back")

	require.NoError(t, s.InsertProgress(ctx, []schema.Progress{ev("b", from+61_000, schema.StatusCompleted)}))
	st, err = s.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, map[schema.Status]int64{schema.StatusCompleted: 1}, st.ByStatus)
	require.Equal(t, []store.IntervalCounts{{T: from, Started: 1}, {T: from + step, Completed: 1}}, st.Intervals)
	require.Len(t, st.Types, 1)
	require.Equal(t, 60_000.0, st.Types[0].DurationP50Ms)
}
