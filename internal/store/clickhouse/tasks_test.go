package clickhouse_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// TestListingAcrossWindows checks what the conformance suite, whose events
// all share one moment, cannot reach of task_updates
// (schema/clickhouse/0013_task_updates.sql): a listing that starts with the
// last hour and widens finds tasks updated minutes, hours, days and years
// ago in order, and a task updated again in a later batch lists once, at
// its latest update and in its latest status, on every page.
func TestListingAcrossWindows(t *testing.T) {
	s := openStore(t, freshConfig(t), nil)
	ctx := t.Context()
	now := time.Now().UnixMilli()
	minute, hour, day := int64(60_000), int64(3_600_000), int64(86_400_000)
	ev := func(task, id string, ts int64, status schema.Status) schema.Progress {
		return schema.Progress{Tenant: "acme", TaskID: task, EventID: id, Timestamp: ts, Status: status, UserID: "u", TaskType: "build"}
	}
	require.NoError(t, s.InsertProgress(ctx, []schema.Progress{
		ev("fresh", "f1", now-5*minute, schema.StatusFailed),
		ev("hours", "h1", now-3*hour, schema.StatusFailed),
		ev("days", "d1", now-4*day, schema.StatusFailed),
		ev("years", "y1", now-3*365*day, schema.StatusFailed),
		ev("moved", "m1", now-2*day, schema.StatusFailed),
	}))
	// A later batch moves one task to the front and out of the failed.
	require.NoError(t, s.InsertProgress(ctx, []schema.Progress{ev("moved", "m2", now-time.Minute.Milliseconds(), schema.StatusRunning)}))

	walk := func(f store.TaskFilter, size int) []string {
		t.Helper()
		f.Tenant, f.Limit = "acme", size
		var ids []string
		for {
			page, err := s.Tasks(ctx, f)
			require.NoError(t, err)
			for _, task := range page {
				ids = append(ids, task.TaskID)
			}
			if len(page) < size {
				return ids
			}
			last := page[len(page)-1]
			f.After = &store.TaskCursor{UpdatedAt: last.UpdatedAt, TaskID: last.TaskID}
			require.Less(t, len(ids), 100, "paging does not end")
		}
	}
	failed := []schema.Status{schema.StatusFailed}
	for _, size := range []int{1, 2, 10} {
		require.Equal(t, []string{"moved", "fresh", "hours", "days", "years"}, walk(store.TaskFilter{}, size), "page size %d", size)
		require.Equal(t, []string{"fresh", "hours", "days", "years"}, walk(store.TaskFilter{Statuses: failed}, size), "failed, page size %d", size)
	}
	require.Equal(t, []string{"hours", "days"}, walk(store.TaskFilter{Statuses: failed, UpdatedSince: now - 5*day, UpdatedUntil: now - hour}, 1))
	require.Equal(t, []string{"days"}, walk(store.TaskFilter{UpdatedUntil: now - day, UpdatedSince: now - 100*day}, 10))
}
