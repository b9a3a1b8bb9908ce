package clickhouse_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/storetest"
	"github.com/taskpulse/taskpulse/schema"
)

// TestDeletion runs the deletion scenarios with every table's merges, and
// so its mutations, stopped: reads must leave a deleted task out whatever
// the mutations' progress.
func TestDeletion(t *testing.T) {
	serverAddr(t)
	storetest.RunDeletion(t, func(t testing.TB) store.Store {
		cfg := freshConfig(t)
		s := openStore(t, cfg, nil)
		admin := adminConn(t, cfg.Database)
		defer admin.Close()
		rows, err := admin.Query(t.Context(), "SELECT name FROM system.tables WHERE database = ? AND engine LIKE '%MergeTree'", cfg.Database)
		require.NoError(t, err)
		var tables []string
		for rows.Next() {
			var name string
			require.NoError(t, rows.Scan(&name))
			tables = append(tables, name)
		}
		require.NoError(t, rows.Err())
		rows.Close()
		require.NotEmpty(t, tables)
		for _, table := range tables {
			require.NoError(t, admin.Exec(t.Context(), "SYSTEM STOP MERGES "+cfg.Database+"."+table))
		}
		return s
	})
}

// TestDeletionMutationsRemoveRows checks that the mutations a tombstone
// starts remove the rows it covers from the tables, while rows after it
// stay.
func TestDeletionMutationsRemoveRows(t *testing.T) {
	cfg := freshConfig(t)
	s := openStore(t, cfg, nil)
	const tenant, ts = "acme", int64(1_750_000_000_000)
	ctx := t.Context()
	require.NoError(t, s.InsertProgress(ctx, []schema.Progress{
		{Tenant: tenant, EventID: "old", Timestamp: ts, TaskID: "t", Status: schema.StatusRunning},
		{Tenant: tenant, EventID: "new", Timestamp: ts + 2, TaskID: "t", Status: schema.StatusRunning},
	}))
	require.NoError(t, s.InsertLogs(ctx, []schema.Log{{Tenant: tenant, EventID: "l", Timestamp: ts, TaskID: "t", Level: schema.LevelInfo, Message: "m"}}))
	require.NoError(t, s.InsertMetrics(ctx, []schema.Metric{{Tenant: tenant, EventID: "m", Timestamp: ts, TaskID: "t", Name: "n", Value: 1}}))
	require.NoError(t, s.InsertProgress(ctx, []schema.Progress{
		{Tenant: tenant, EventID: "tomb", Timestamp: ts + 1, TaskID: "t", Status: schema.StatusDeleted},
	}))

	admin := adminConn(t, cfg.Database)
	defer admin.Close()
	count := func(table string) uint64 {
		var n uint64
		require.NoError(t, admin.QueryRow(context.Background(), "SELECT count() FROM "+table+" WHERE tenant = ? AND task_id = ?", tenant, "t").Scan(&n))
		return n
	}
	require.Eventually(t, func() bool {
		return count("progress_events") == 1 && count("task_events") == 1 && count("logs") == 0 && count("metrics") == 0
	}, time.Minute, 100*time.Millisecond, "the covered rows are still stored")
	task, err := s.Task(ctx, tenant, "t")
	require.NoError(t, err)
	require.Equal(t, "new", task.EventID)
	require.EqualValues(t, 1, task.Events)
}
