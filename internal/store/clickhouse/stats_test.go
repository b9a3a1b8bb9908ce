package clickhouse_test

import (
	"fmt"
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
// (schema/clickhouse/0015_task_snapshots.sql): reading writes nothing, a
// refresh writes the tenant's spans back, and an event stored after that
// still counts, since the task it changed is computed again from its
// events.
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
	snapshots := func() uint64 {
		var n uint64
		require.NoError(t, admin.QueryRow(ctx, "SELECT count() FROM task_snapshots WHERE tenant = 'acme'").Scan(&n))
		return n
	}
	require.Zero(t, snapshots(), "a read wrote snapshots")
	require.NoError(t, s.RefreshTaskSnapshots(ctx, "acme"))
	require.Equal(t, uint64(1), snapshots(), "the refresh writes the span back")

	require.NoError(t, s.InsertProgress(ctx, []schema.Progress{ev("b", from+61_000, schema.StatusCompleted)}))
	st, err = s.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, map[schema.Status]int64{schema.StatusCompleted: 1}, st.ByStatus)
	require.Equal(t, []store.IntervalCounts{{T: from, Started: 1}, {T: from + step, Completed: 1}}, st.Intervals)
	require.Len(t, st.Types, 1)
	require.Equal(t, 60_000.0, st.Types[0].DurationP50Ms)
}

// TestStatsCountsManyChangedTasksOnce checks the read for more changed
// tasks than a list can name: with snapshots of every task and then a
// change to each, every task counts once, in its new status, whether its
// snapshot or its events say so, and a redelivered batch changes nothing.
func TestStatsCountsManyChangedTasksOnce(t *testing.T) {
	s := openStore(t, freshConfig(t), nil)
	ctx := t.Context()
	step := int64(time.Minute / time.Millisecond)
	from := time.Now().UnixMilli() - 10*step
	from -= from % step
	q := store.StatsQuery{Tenant: "acme", From: from, To: from + 3*step, Step: step}
	const tasks = 700 // more than the stale tasks a list names
	batch := func(status schema.Status, at int64) []schema.Progress {
		events := make([]schema.Progress, tasks)
		for i := range events {
			task := fmt.Sprintf("t%d", i)
			events[i] = schema.Progress{Tenant: "acme", TaskID: task, EventID: task + "-" + string(status), Timestamp: at, Status: status, TaskType: "build"}
		}
		return events
	}
	require.NoError(t, s.InsertProgress(ctx, batch(schema.StatusRunning, from+1000)))
	require.NoError(t, s.RefreshTaskSnapshots(ctx, "acme"))
	completed := batch(schema.StatusCompleted, from+61_000)
	require.NoError(t, s.InsertProgress(ctx, completed))
	st, err := s.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, map[schema.Status]int64{schema.StatusCompleted: tasks}, st.ByStatus)
	require.Equal(t, []store.IntervalCounts{{T: from, Started: tasks}, {T: from + step, Completed: tasks}}, st.Intervals)
	require.Equal(t, int64(tasks), st.Types[0].Finished)

	require.NoError(t, s.InsertProgress(ctx, completed))
	again, err := s.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, st, again, "a redelivered batch changed the statistics")
}

// TestListingsAndStatsLeaveDeletedTasksOut checks that a task whose latest
// event has status deleted is neither listed nor counted, while its
// neighbours are. The event is stored in the tables listings and Stats
// read, as the summaries keep whatever status progress events carry.
func TestListingsAndStatsLeaveDeletedTasksOut(t *testing.T) {
	cfg := freshConfig(t)
	s := openStore(t, cfg, nil)
	ctx := t.Context()
	step := int64(time.Minute / time.Millisecond)
	now := time.Now().UnixMilli()
	from := now - 10*step
	from -= from % step
	ev := func(task, id string, ts int64, status schema.Status) schema.Progress {
		return schema.Progress{Tenant: "acme", TaskID: task, EventID: id, Timestamp: ts, Status: status, UserID: "u", TaskType: "build"}
	}
	require.NoError(t, s.InsertProgress(ctx, []schema.Progress{
		ev("kept", "k1", from+1000, schema.StatusRunning),
		ev("gone", "g1", from+2000, schema.StatusRunning),
	}))
	admin := adminConn(t, cfg.Database)
	defer admin.Close()
	deleted := string(schema.Status("deleted"))
	// INSERT ... SELECT, since 18.16 waits for data blocks after VALUES.
	require.NoError(t, admin.Exec(ctx, fmt.Sprintf(`INSERT INTO task_events (tenant, task_id, event_id, timestamp, status, version)
		SELECT 'acme', 'gone', 'g2', %d, '%s', 1`, from+3000, deleted)))
	require.NoError(t, admin.Exec(ctx, fmt.Sprintf(`INSERT INTO task_updates (tenant, updated, task_id, status, user_id, task_type)
		SELECT 'acme', %d, 'gone', 'running', 'u', 'build'`, from+3000)))

	listed := func(f store.TaskFilter) []string {
		f.Tenant, f.Limit = "acme", 10
		tasks, err := s.Tasks(ctx, f)
		require.NoError(t, err)
		var ids []string
		for _, task := range tasks {
			ids = append(ids, task.TaskID)
		}
		return ids
	}
	require.Equal(t, []string{"kept"}, listed(store.TaskFilter{}))
	require.Equal(t, []string{"kept"}, listed(store.TaskFilter{TaskType: "build"}))

	q := store.StatsQuery{Tenant: "acme", From: from, To: from + 3*step, Step: step}
	st, err := s.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, map[schema.Status]int64{schema.StatusRunning: 1}, st.ByStatus, "counted from the events")
	require.NoError(t, s.RefreshTaskSnapshots(ctx, "acme"))
	var snapshot string
	require.NoError(t, admin.QueryRow(ctx, "SELECT toString(status) FROM task_snapshots FINAL WHERE tenant = 'acme' AND task_id = 'gone'").Scan(&snapshot))
	require.Equal(t, deleted, snapshot)
	// Snapshots taken an hour ahead leave no change to compute again.
	require.NoError(t, admin.Exec(ctx, `INSERT INTO task_snapshots (tenant, task_id, status, task_type, created, started, updated, taken_at)
		SELECT tenant, task_id, status, task_type, created, started, updated, now() + 3600 FROM task_snapshots FINAL WHERE tenant = 'acme'`))
	st, err = s.Stats(ctx, q)
	require.NoError(t, err)
	require.Equal(t, map[schema.Status]int64{schema.StatusRunning: 1}, st.ByStatus, "counted from the snapshots")
}
