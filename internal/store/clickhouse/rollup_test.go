package clickhouse_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// TestRollupRepairsAndMerges checks the two claims of the rollup's design
// (schema/clickhouse/0008_metrics.sql) the conformance suite cannot reach:
// samples stored by an insert that stopped before recomputing the rollup
// are counted once their batch is redelivered, and merging every table
// changes no answer.
func TestRollupRepairsAndMerges(t *testing.T) {
	cfg := freshConfig(t)
	s := openStore(t, cfg, nil)
	admin := adminConn(t, cfg.Database)
	defer admin.Close()
	ctx := t.Context()
	const minutes = 5
	from := speedTime - speedTime%store.RollupStep

	var samples []schema.Metric
	for i := range 500 {
		samples = append(samples, schema.Metric{
			Tenant: "acme", EventID: fmt.Sprintf("e%03d", i), Timestamp: from + 1 + int64(i)*minutes*store.RollupStep/500,
			Name: "latency", Value: float64(i % 17), Labels: map[string]string{"route": fmt.Sprintf("/r%d", i%3)},
		})
	}
	// The last minute's samples are stored as an interrupted insert leaves
	// them: in metrics, with no rollup rows.
	interrupted := samples[400:]
	batch, err := admin.PrepareBatch(ctx, "INSERT INTO metrics (tenant, event_id, timestamp, name, value, label_keys, label_values, version)")
	require.NoError(t, err)
	for i, m := range interrupted {
		require.NoError(t, batch.Append(m.Tenant, m.EventID, m.Timestamp, m.Name, m.Value, []string{"route"}, []string{m.Labels["route"]}, uint64(math.MaxUint64)-uint64(i)))
	}
	require.NoError(t, batch.Send())
	require.NoError(t, s.InsertMetrics(ctx, samples[:400]))

	perMinute := func(agg store.Aggregation) []store.Point {
		t.Helper()
		series, err := s.MetricSeries(ctx, store.SeriesQuery{Tenant: "acme", Name: "latency", From: from, To: from + minutes*store.RollupStep, Step: store.RollupStep, Agg: agg})
		require.NoError(t, err)
		require.Len(t, series, 1)
		return series[0].Points
	}
	require.Len(t, perMinute(store.AggCount), minutes-1, "the interrupted minute has no rollup rows yet")

	require.NoError(t, s.InsertMetrics(ctx, interrupted))
	want := map[store.Aggregation][]store.Point{}
	for _, agg := range []store.Aggregation{store.AggCount, store.AggSum, store.AggLast, store.AggP90} {
		want[agg] = perMinute(agg)
	}
	for m := range minutes {
		require.Equal(t, store.Point{T: from + int64(m)*store.RollupStep, V: 100}, want[store.AggCount][m], "minute %d", m)
	}

	for _, table := range []string{"metrics", "metric_minutes", "metric_rollup"} {
		require.NoError(t, admin.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"))
	}
	var rows uint64
	require.NoError(t, admin.QueryRow(ctx, "SELECT count() FROM metric_rollup").Scan(&rows))
	require.Equal(t, uint64(minutes*3), rows, "one row per series and minute after merging")
	for agg, points := range want {
		require.Equal(t, points, perMinute(agg), "%s after merging", agg)
	}
}
