package clickhouse_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store/clickhouse"
	"github.com/taskpulse/taskpulse/schema"
)

// TestRetention stores a signal of each kind forty days old and one an
// hour old, runs a retention pass keeping a week, and requires every table
// to end with the recent rows only: by mutations on servers without TTL,
// by TTL and a merge on the others.
func TestRetention(t *testing.T) {
	cfg := freshConfig(t)
	s := openStore(t, cfg, nil)
	ctx := t.Context()
	now := time.Now()
	for i, at := range []time.Time{now.Add(-40 * 24 * time.Hour), now.Add(-time.Hour)} {
		ts, id := at.UnixMilli(), fmt.Sprint(i)
		require.NoError(t, s.InsertProgress(ctx, []schema.Progress{{Tenant: "acme", EventID: "p" + id, Timestamp: ts, TaskID: "task-" + id, Status: schema.StatusRunning}}))
		require.NoError(t, s.InsertLogs(ctx, []schema.Log{{Tenant: "acme", EventID: "l" + id, Timestamp: ts, TaskID: "task-" + id, Level: schema.LevelError, Message: "failed"}}))
		require.NoError(t, s.InsertMetrics(ctx, []schema.Metric{{Tenant: "acme", EventID: "m" + id, Timestamp: ts, Name: "queue_depth", Kind: schema.KindGauge, Value: 1}}))
	}
	week := 7 * 24 * time.Hour
	policy := clickhouse.Retention{Progress: week, Logs: week, Metrics: week, Rollups: week}
	res, err := s.EnforceRetention(ctx, policy, now)
	require.NoError(t, err)
	t.Log(res)
	require.NotEmpty(t, res.Actions)

	admin := adminConn(t, cfg.Database)
	defer admin.Close()
	tables := map[string]string{
		"progress_events": "timestamp", "task_events": "timestamp", "task_updates": "updated", "task_snapshots": "updated",
		"logs": "timestamp", "log_times": "timestamp", "log_tasks": "timestamp",
		"metrics": "timestamp", "metric_minutes": "minute", "metric_rollup": "minute",
	}
	if slices.Compare(serverVersion(t, admin), []int{20, 1}) >= 0 {
		for table := range tables {
			require.NoError(t, admin.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"))
		}
	}
	require.Eventually(t, func() bool {
		var running uint64
		require.NoError(t, admin.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0").Scan(&running))
		return running == 0
	}, time.Minute, 100*time.Millisecond, "the mutations never finished")
	horizon := now.Add(-week).UnixMilli()
	for table, column := range tables {
		var oldest int64
		var n uint64
		require.NoError(t, admin.QueryRow(ctx, fmt.Sprintf("SELECT toInt64(min(%s)), count() FROM %s", column, table)).Scan(&oldest, &n))
		// Stats alone writes task_snapshots, now and then.
		if table != "task_snapshots" {
			require.Greater(t, n, uint64(0), "%s lost its recent rows", table)
		}
		if n > 0 {
			require.GreaterOrEqual(t, oldest, horizon-time.Minute.Milliseconds(), "%s keeps rows past the horizon", table)
		}
	}

	again, err := s.EnforceRetention(ctx, policy, now)
	require.NoError(t, err)
	require.Empty(t, again.Actions, "a second pass changed more")
}
