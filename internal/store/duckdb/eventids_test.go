package duckdb

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

func uuidV7(ms int64, n int) string {
	return fmt.Sprintf("%08x-%04x-7000-8000-%012x", ms>>16, ms&0xffff, n)
}

// TestLateRetriesAfterReopen stores logs and samples, reopens the file,
// stores more than a row group after them, then retries the first ones
// with other timestamps and values among new ids: each id counts once,
// in the tables and in the rollup.
func TestLateRetriesAfterReopen(t *testing.T) {
	const start = int64(1_750_000_000_000)
	path := filepath.Join(t.TempDir(), "retry.duckdb")
	s, err := Open(path, Options{Threads: 2})
	require.NoError(t, err)
	logs := func(from, n int, ms func(i int) int64) []schema.Log {
		out := make([]schema.Log, n)
		for i := range out {
			out[i] = schema.Log{Tenant: "acme", EventID: uuidV7(ms(from+i), from+i), Timestamp: ms(from + i),
				Level: schema.LevelInfo, Message: "line"}
		}
		return out
	}
	samples := func(from, n int, ms func(i int) int64) []schema.Metric {
		out := make([]schema.Metric, n)
		for i := range out {
			out[i] = schema.Metric{Tenant: "acme", EventID: uuidV7(ms(from+i), from+i), Timestamp: ms(from + i),
				Name: "m", Value: 1}
		}
		return out
	}
	early := func(i int) int64 { return start + int64(i) }
	require.NoError(t, s.InsertLogs(t.Context(), logs(0, 100, early)))
	require.NoError(t, s.InsertMetrics(t.Context(), samples(0, 100, early)))
	require.NoError(t, s.Close())

	s, err = Open(path, Options{Threads: 2})
	require.NoError(t, err)
	defer s.Close()
	later := func(i int) int64 { return start + 3_600_000 + int64(i) }
	const more = 130_000 // more than a row group of 122,880
	for from := 100; from < more; from += 50_000 {
		require.NoError(t, s.InsertLogs(t.Context(), logs(from, min(50_000, more-from), later)))
		require.NoError(t, s.InsertMetrics(t.Context(), samples(from, min(50_000, more-from), later)))
	}
	retryLogs, retrySamples := logs(0, 100, early), samples(0, 100, early)
	for i := range retryLogs {
		retryLogs[i].Timestamp += 7_200_000
		retrySamples[i].Timestamp += 7_200_000
		retrySamples[i].Value = 1000
	}
	require.NoError(t, s.InsertLogs(t.Context(), append(retryLogs, logs(more, 10, later)...)))
	require.NoError(t, s.InsertMetrics(t.Context(), append(retrySamples, samples(more, 10, later)...)))

	for _, q := range []string{
		`SELECT count(*) FROM logs`, `SELECT count(DISTINCT event_id) FROM logs`,
		`SELECT count(*) FROM metrics`, `SELECT count(DISTINCT event_id) FROM metrics`,
		`SELECT sum(count) FROM metric_rollup`, `SELECT sum(sum)::BIGINT FROM metric_rollup`,
	} {
		var n int64
		require.NoError(t, s.db.QueryRow(q).Scan(&n))
		require.Equal(t, int64(more+10), n, q)
	}
}
