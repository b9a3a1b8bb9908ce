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
