package duckdb

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

// feedDays stores, for each of days days before now, one task reporting
// every ten minutes of its day, a log record and a metric sample beside
// each of its events.
func feedDays(t *testing.T, s *Store, now time.Time, days int) {
	t.Helper()
	for d := days; d > 0; d-- {
		var events []schema.Progress
		var logs []schema.Log
		var samples []schema.Metric
		dayStart := now.Add(-time.Duration(d) * 24 * time.Hour)
		for k := range 144 {
			ts := dayStart.Add(time.Duration(k) * 10 * time.Minute).UnixMilli()
			id := fmt.Sprintf("%d-%d", d, k)
			task := fmt.Sprintf("day-%d", d)
			events = append(events, schema.Progress{Tenant: "acme", EventID: "p" + id, Timestamp: ts, TaskID: task, Status: schema.StatusRunning})
			logs = append(logs, schema.Log{Tenant: "acme", EventID: "l" + id, Timestamp: ts, TaskID: task, Level: schema.LevelInfo, Message: "step " + id})
			samples = append(samples, schema.Metric{Tenant: "acme", EventID: "m" + id, Timestamp: ts, Name: "queue_depth", Kind: schema.KindGauge, Value: float64(k)})
		}
		require.NoError(t, s.InsertProgress(t.Context(), events))
		require.NoError(t, s.InsertLogs(t.Context(), logs))
		require.NoError(t, s.InsertMetrics(t.Context(), samples))
	}
}

func TestRetentionKeepsOnlyTheHorizon(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "taskpulse.duckdb"), Options{Threads: 2})
	require.NoError(t, err)
	defer s.Close()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	feedDays(t, s, now, 30)
	// A task that started past the horizon and still reports keeps its
	// row, and its recent events.
	require.NoError(t, s.InsertProgress(t.Context(), []schema.Progress{
		{Tenant: "acme", EventID: "long-1", Timestamp: now.Add(-20 * 24 * time.Hour).UnixMilli(), TaskID: "long", Status: schema.StatusRunning},
		{Tenant: "acme", EventID: "long-2", Timestamp: now.Add(-time.Hour).UnixMilli(), TaskID: "long", Status: schema.StatusRunning},
	}))

	week := 7 * 24 * time.Hour
	res, err := s.EnforceRetention(t.Context(), Retention{Progress: week, Logs: week, Metrics: week, Rollups: week}, now)
	require.NoError(t, err)
	t.Log(res)

	horizon := now.Add(-week).UnixMilli()
	const perDay = 144
	// Rows stored and rows within the last seven days, by table; every
	// sample falls in a minute of its own.
	want := map[string][2]int{
		"progress_events": {30*perDay + 2, 7*perDay + 1},
		"tasks":           {30 + 1, 7 + 1},
		"logs":            {30 * perDay, 7 * perDay},
		"metrics":         {30 * perDay, 7 * perDay},
		"metric_rollup":   {30 * perDay, 7 * perDay},
	}
	for _, e := range expiries {
		var oldest int64
		var n int
		require.NoError(t, s.db.QueryRow(fmt.Sprintf("SELECT min(%s), count(*) FROM %s", e.column, e.table)).Scan(&oldest, &n))
		require.GreaterOrEqual(t, oldest, horizon-e.span, "%s keeps a row past the horizon", e.table)
		require.Equal(t, want[e.table][1], n, "rows left in %s", e.table)
		require.Equal(t, int64(want[e.table][0]-want[e.table][1]), res.Removed[e.table], "rows removed from %s", e.table)
	}
	task, err := s.Task(t.Context(), "acme", "long")
	require.NoError(t, err)
	require.Equal(t, now.Add(-time.Hour).UnixMilli(), task.UpdatedAt)

	again, err := s.EnforceRetention(t.Context(), Retention{Progress: week, Logs: week, Metrics: week, Rollups: week}, now)
	require.NoError(t, err)
	require.Zero(t, again.Rows(), "a second pass found more to delete")
}

// TestRetentionBoundsTheFile runs a store for weeks, a day's logs and a
// retention pass at a time, and requires the file to stop growing once
// the horizon is full.
func TestRetentionBoundsTheFile(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "taskpulse.duckdb"), Options{Threads: 2})
	require.NoError(t, err)
	defer s.Close()
	const horizon, days, perDay = 3, 12, 10_000
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	blocks := make([]int64, days)
	for d := range days {
		logs := make([]schema.Log, perDay)
		for k := range logs {
			logs[k] = schema.Log{Tenant: "acme", EventID: fmt.Sprintf("%d-%d", d, k), Level: schema.LevelInfo,
				Timestamp: start.Add(time.Duration(d)*day + time.Duration(k)*day/perDay).UnixMilli(),
				Message:   fmt.Sprintf("fetched page %d of docs.example.com in %d ms", k, d)}
		}
		require.NoError(t, s.InsertLogs(t.Context(), logs))
		res, err := s.EnforceRetention(t.Context(), Retention{Logs: horizon * day}, start.Add(time.Duration(d+1)*day))
		require.NoError(t, err)
		var used int64
		require.NoError(t, s.db.QueryRow("SELECT total_blocks, used_blocks FROM pragma_database_size()").Scan(&blocks[d], &used))
		t.Logf("day %d: %s; %d blocks, %d used", d+1, res, blocks[d], used)
	}
	var n int
	require.NoError(t, s.db.QueryRow("SELECT count(*) FROM logs").Scan(&n))
	require.Equal(t, horizon*perDay, n)
	full := slices.Max(blocks[horizon : 2*horizon+1])
	require.LessOrEqual(t, blocks[days-1], full+full/4, "the file grew on after the horizon filled: %v", blocks)
}

// TestRetentionBesideAReader compacts a table while a query reads it: the
// query reads its snapshot whole, and the pass leaves the checkpoint it
// cannot take to DuckDB.
func TestRetentionBesideAReader(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "taskpulse.duckdb"), Options{Threads: 2})
	require.NoError(t, err)
	defer s.Close()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	feedDays(t, s, now, 10)

	tx, err := s.db.BeginTx(t.Context(), nil)
	require.NoError(t, err)
	defer tx.Rollback()
	rows, err := tx.QueryContext(t.Context(), "SELECT event_id FROM logs")
	require.NoError(t, err)
	read := 0
	for ; read < 10 && rows.Next(); read++ {
	}
	res, err := s.EnforceRetention(t.Context(), Retention{Logs: 24 * time.Hour}, now)
	require.NoError(t, err)
	require.Equal(t, int64(9*144), res.Removed["logs"])
	require.True(t, res.CheckpointDeferred)
	for ; rows.Next(); read++ {
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 10*144, read, "the query lost rows of its snapshot")
	require.NoError(t, rows.Close())
	require.NoError(t, tx.Rollback())

	var n int
	require.NoError(t, s.db.QueryRow("SELECT count(*) FROM logs").Scan(&n))
	require.Equal(t, 144, n)
}
