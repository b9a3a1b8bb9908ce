package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"os"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/datagen"
	"github.com/taskpulse/taskpulse/internal/querybench"
	"github.com/taskpulse/taskpulse/internal/store"
)

func TestDatagenQuerybench(t *testing.T) {
	t.Run("duckdb", func(t *testing.T) {
		checkDatagenQuerybench(t, "--data-dir", t.TempDir())
	})
	t.Run("clickhouse", func(t *testing.T) {
		addr := os.Getenv("TASKPULSE_CLICKHOUSE_ADDR")
		if addr == "" {
			t.Skip("TASKPULSE_CLICKHOUSE_ADDR is not set; start a server with deploy/clickhouse.sh start to run against ClickHouse")
		}
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		database := "tp_test_" + hex.EncodeToString(b)
		t.Cleanup(func() {
			conn, err := ch.Open(&ch.Options{Addr: []string{addr}})
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+database))
		})
		checkDatagenQuerybench(t, "--store", "clickhouse", "--clickhouse-addr", addr, "--clickhouse-database", database)
	})
}

// checkDatagenQuerybench generates a small data set into the store the
// arguments name, counts it back through the store, and runs querybench
// on it.
func checkDatagenQuerybench(t *testing.T, storeArgs ...string) {
	ctx := t.Context()
	var out bytes.Buffer
	counts, err := runDatagen(ctx, append([]string{"--events", "20000", "--seed", "7", "--batch", "5000"}, storeArgs...), &out)
	require.NoError(t, err, out.String())
	require.Contains(t, out.String(), "rows/s")
	require.Positive(t, counts.Tasks)
	require.Positive(t, counts.Progress)
	require.LessOrEqual(t, counts.Total(), int64(20_000))

	var d datagen.Dataset
	fs := flag.NewFlagSet("count", flag.ContinueOnError)
	d.RegisterFlags(fs)
	require.NoError(t, parse(fs, storeArgs, d.Validate))
	be, err := d.Open(ctx, nil, false)
	require.NoError(t, err)
	require.Equal(t, counts, storedCounts(t, be.Store))
	require.NoError(t, be.Close())

	out.Reset()
	require.NoError(t, runQuerybench(ctx, append([]string{"--runs", "2", "--warmup", "0", "--alert-rules", "20"}, storeArgs...), &out))
	t.Log("\n" + out.String())
	for _, name := range querybench.QueryNames(d.Days) {
		require.Contains(t, out.String(), "\n"+name+" ")
	}
	require.Contains(t, out.String(), "alert rules:")
}

// storedCounts counts the default tenant's records through the store: the
// tasks and their events by paging the listing, every log, and every
// metric sample by a count over all time.
func storedCounts(t *testing.T, st store.Store) datagen.Counts {
	t.Helper()
	ctx := t.Context()
	var c datagen.Counts
	f := store.TaskFilter{Tenant: auth.DefaultTenant, Limit: 1000}
	for {
		page, err := st.Tasks(ctx, f)
		require.NoError(t, err)
		for _, task := range page {
			c.Tasks++
			c.Progress += task.Events
		}
		if len(page) < f.Limit {
			break
		}
		last := page[len(page)-1]
		f.After = &store.TaskCursor{UpdatedAt: last.UpdatedAt, TaskID: last.TaskID}
	}
	logs, err := st.Logs(ctx, store.LogFilter{Tenant: auth.DefaultTenant, Limit: 1 << 30})
	require.NoError(t, err)
	c.Logs = int64(len(logs))
	for _, m := range datagen.Metrics() {
		series, err := st.MetricSeries(ctx, store.SeriesQuery{
			Tenant: auth.DefaultTenant, Name: m.Name, From: 1, To: 1 << 62, Step: 1 << 62, Agg: store.AggCount,
		})
		require.NoError(t, err)
		for _, s := range series {
			for _, p := range s.Points {
				c.Metrics += int64(p.V)
			}
		}
	}
	return c
}
