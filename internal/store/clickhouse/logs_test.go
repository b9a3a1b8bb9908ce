package clickhouse_test

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// TestLogRounds lists more records than one round of candidates holds,
// spread over two days before now, so that listings probe several spans
// and read several rounds, with retried copies whose later timestamps fall
// in other rounds and other stats buckets than the copies that win.
func TestLogRounds(t *testing.T) {
	var rounds atomic.Int64
	s := openStore(t, freshConfig(t), func(q string) {
		if strings.Contains(q, "FROM logs FINAL") {
			rounds.Add(1)
		}
	})
	ctx := t.Context()
	const tenant, n = "rounds", 3000
	end := time.Now().UnixMilli()
	var stored []schema.Log
	for i := range n {
		l := schema.Log{
			Tenant: tenant, EventID: fmt.Sprintf("ev-%05d", (i*7919)%n), Timestamp: end - int64(n-i)*time.Minute.Milliseconds(),
			Level: schema.LevelInfo, Message: fmt.Sprintf("record %d", i), TaskID: fmt.Sprintf("task-%d", i%3),
		}
		if i%9 == 0 {
			l.Level = schema.LevelError
		}
		if i%97 == 0 {
			l.Message += " needle"
		}
		stored = append(stored, l)
	}
	for chunk := range slices.Chunk(stored, 500) {
		require.NoError(t, s.InsertLogs(ctx, chunk))
	}
	// Retries stamped again by ingest, five hours later: they lose to the
	// copies stored first.
	var retries []schema.Log
	for i := 0; i < n; i += 450 {
		r := stored[i]
		r.Timestamp += 5 * time.Hour.Milliseconds()
		retries = append(retries, r)
	}
	require.NoError(t, s.InsertLogs(ctx, retries))

	newestFirst := func(keep func(schema.Log) bool) []string {
		var want []schema.Log
		for _, l := range stored {
			if keep(l) {
				want = append(want, l)
			}
		}
		slices.SortFunc(want, func(a, b schema.Log) int {
			return cmp.Or(cmp.Compare(b.Timestamp, a.Timestamp), cmp.Compare(b.EventID, a.EventID))
		})
		ids := make([]string, len(want))
		for i, l := range want {
			ids[i] = l.EventID
		}
		return ids
	}
	list := func(f store.LogFilter, page int) []string {
		t.Helper()
		f.Tenant, f.Limit = tenant, page
		var ids []string
		for {
			logs, err := s.Logs(ctx, f)
			require.NoError(t, err)
			for _, l := range logs {
				ids = append(ids, l.EventID)
			}
			if len(logs) < page {
				return ids
			}
			last := logs[len(logs)-1]
			f.After = &store.LogCursor{Timestamp: last.Timestamp, EventID: last.EventID}
		}
	}
	all := func(schema.Log) bool { return true }
	require.Equal(t, newestFirst(all), list(store.LogFilter{}, 700))
	require.Equal(t, newestFirst(func(l schema.Log) bool { return l.Level == schema.LevelError }),
		list(store.LogFilter{MinLevel: schema.LevelError}, 100))
	rounds.Store(0)
	require.Equal(t, newestFirst(func(l schema.Log) bool { return strings.HasSuffix(l.Message, "needle") }),
		list(store.LogFilter{Text: "needle"}, 7))
	require.Greater(t, rounds.Load(), int64(5), "pages of a rare text take several rounds each")
	require.Equal(t, newestFirst(func(l schema.Log) bool { return l.TaskID == "task-1" }),
		list(store.LogFilter{TaskID: "task-1"}, 300))
	since, until := stored[1000].Timestamp, stored[2500].Timestamp
	require.Equal(t, newestFirst(func(l schema.Log) bool { return l.Timestamp >= since && l.Timestamp < until }),
		list(store.LogFilter{Since: since, Until: until}, 400))

	// Error counts by hour: each record once, in the hour of its first copy.
	from := stored[0].Timestamp - stored[0].Timestamp%time.Hour.Milliseconds()
	step := time.Hour.Milliseconds()
	counts := map[int64]float64{}
	for _, l := range stored {
		if l.Level == schema.LevelError {
			counts[l.Timestamp-(l.Timestamp-from)%step]++
		}
	}
	var want []store.Point
	for t, v := range counts {
		want = append(want, store.Point{T: t, V: v})
	}
	slices.SortFunc(want, func(a, b store.Point) int { return cmp.Compare(a.T, b.T) })
	st, err := s.Stats(ctx, store.StatsQuery{Tenant: tenant, From: from, To: end + step, Step: step})
	require.NoError(t, err)
	require.Equal(t, want, st.ErrorLogs)
}
