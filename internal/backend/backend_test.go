package backend

import (
	"flag"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

func newFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func TestRetentionFlags(t *testing.T) {
	f := func(arg string, want time.Duration, wantErr string) {
		t.Helper()
		var b Flags
		fs := newFlagSet()
		b.RegisterStoreFlags(fs)
		err := fs.Parse([]string{"--retention-logs", arg})
		if wantErr != "" {
			require.ErrorContains(t, err, wantErr, arg)
			return
		}
		require.NoError(t, err, arg)
		require.Equal(t, want, b.Retention.Logs, arg)
		require.Equal(t, DefaultRetention().Progress, b.Retention.Progress, "another flag moved")
	}
	f("30d", 30*24*time.Hour, "")
	f("2w", 14*24*time.Hour, "")
	f("1d12h", 36*time.Hour, "")
	f("36h", 36*time.Hour, "")
	f("1.5h", 90*time.Minute, "")
	f("0", 0, "")
	f("7m", 0, "less than an hour")
	f("-3d", 0, "want a duration")
	f("-3h", 0, "want a duration")
	f("30 days", 0, "want a duration")
	f("", 0, "want a duration")
}

func TestRetentionValidate(t *testing.T) {
	d := 24 * time.Hour
	require.NoError(t, DefaultRetention().Validate())
	require.NoError(t, Retention{Metrics: 7 * d, Rollups: 7 * d}.Validate())
	require.NoError(t, Retention{Metrics: 0, Rollups: 0}.Validate())
	require.NoError(t, Retention{Metrics: 7 * d, Rollups: 0}.Validate())
	require.ErrorContains(t, Retention{Metrics: 30 * d, Rollups: 7 * d}.Validate(), "--retention-rollups 7d is shorter than --retention-metrics 30d")
	require.Error(t, Retention{Metrics: 0, Rollups: 400 * d}.Validate(), "a rollup cannot outlast samples kept forever")
}

// TestFlagGroups checks that a command registering only the store flags
// neither offers nor checks the bus's.
func TestFlagGroups(t *testing.T) {
	var store Flags
	fs := newFlagSet()
	store.RegisterStoreFlags(fs)
	for _, name := range []string{"store", "clickhouse-addr", "retention-progress", "retention-rollups"} {
		require.NotNil(t, fs.Lookup(name), name)
	}
	for _, name := range []string{"bus", "kafka-brokers"} {
		require.Nil(t, fs.Lookup(name), name)
	}
	require.NoError(t, fs.Parse(nil))
	require.NoError(t, store.Validate())
	require.Error(t, fs.Parse([]string{"--bus", "kafka"}))

	var all Flags
	fs = newFlagSet()
	all.RegisterFlags(fs)
	require.NotNil(t, fs.Lookup("kafka-brokers"))
	require.NoError(t, fs.Parse([]string{"--bus", "nats", "--retention-rollups", "1d"}))
	err := all.Validate()
	require.ErrorContains(t, err, `--bus "nats"`)
	require.ErrorContains(t, err, "--retention-rollups 1d")
}

// TestRetentionLoop opens a DuckDB store with the loop on, as the writer's
// process does, and requires its first pass to remove the records stored
// before past the horizon, and keep the others.
func TestRetentionLoop(t *testing.T) {
	var f Flags
	fs := newFlagSet()
	f.RegisterStoreFlags(fs)
	require.NoError(t, fs.Parse([]string{"--retention-logs", "1h"}))
	dir := t.TempDir()
	b, err := Open(t.Context(), &f, Options{DataDir: dir, Store: true})
	require.NoError(t, err)
	now := time.Now()
	var logs []schema.Log
	for i, age := range []time.Duration{3 * time.Hour, 2 * time.Hour, time.Minute} {
		logs = append(logs, schema.Log{Tenant: "acme", EventID: fmt.Sprint(i), Timestamp: now.Add(-age).UnixMilli(), Level: schema.LevelInfo, Message: "m"})
	}
	require.NoError(t, b.Store.InsertLogs(t.Context(), logs))
	require.NoError(t, b.Close())

	b, err = Open(t.Context(), &f, Options{DataDir: dir, Store: true, Retain: true})
	require.NoError(t, err)
	defer b.Close()
	require.Eventually(t, func() bool {
		kept, err := b.Store.Logs(t.Context(), store.LogFilter{Tenant: "acme", Limit: 10})
		require.NoError(t, err)
		return len(kept) == 1 && kept[0].EventID == "2"
	}, 10*time.Second, 50*time.Millisecond, "the loop's first pass left expired records")
}
