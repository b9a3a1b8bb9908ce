package clickhouse

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

const insertMetrics = `INSERT INTO metrics (tenant, event_id, timestamp, ingest_order, name, kind, value, unit, label_keys, label_values, task_id, version)`

// minuteOf is the SQL of the rollup minute of a timestamp; it truncates,
// which is flooring for the positive timestamps the store takes. The
// materialized view of metric_minutes (schema/clickhouse/0008) computes it
// the same way.
const minuteOf = `intDiv(timestamp, 60000) * 60000`

// rollupMinutes recomputes the rollup rows of the (tenant, name, minute)
// triples bound twice, from the samples as FINAL deduplicates them, and
// inserts them whole; metric_rollup keeps the row of each series and minute
// that saw the most samples (see schema/clickhouse/0008_metrics.sql).
// metric_minutes names the candidate events; the WHERE, after FINAL, keeps
// those whose winning copy is in one of the minutes, and the join leaves
// out those a task's deletion covers (see delete.go).
//
// The quantile sketch is built at the level of the aggregates: 18.16 lets a
// lambda read the aliases of its own level but not the columns of a
// subquery. Those aliases must differ from the columns the level reads
// (see stateSelect).
const rollupMinutes = `INSERT INTO metric_rollup (tenant, name, minute, label_keys, label_values, samples, total, low, high,
    last_value, last_ts, last_order, last_event_id, bins, counts)
SELECT tenant, name, minute, label_keys, label_values, n, s, lo, hi, lv, lk.1, lk.2, lk.3, bin_list, bin_counts
FROM
(
    SELECT tenant, name, minute, label_keys, label_values,
        count() AS n, sum(value) AS s, min(value) AS lo, max(value) AS hi, argMax(value, key) AS lv, max(key) AS lk,
        arrayMap(v -> if(hi = lo, 0, least(` + lastBin + `, toUInt8(floor((v - lo) / (hi - lo) * ` + rollupBins + `)))), groupArray(value)) AS binned,
        arraySort(arrayDistinct(binned)) AS bin_list,
        arrayMap(b -> countEqual(binned, b), bin_list) AS bin_counts
    FROM
    (
        SELECT tenant, name, ` + minuteOf + ` AS minute, label_keys, label_values, value, task_id, timestamp,
            (timestamp, ingest_order, event_id) AS key
        FROM metrics FINAL
        PREWHERE tenant IN ? AND event_id IN (SELECT event_id FROM metric_minutes WHERE (tenant, name, minute) IN ?)
        WHERE (tenant, name, minute) IN ?
    )` + deletedAtJoin + `
    WHERE timestamp > task_deleted_at
    GROUP BY tenant, name, minute, label_keys, label_values
)`

// rollupBins is the number of bins of a minute's quantile sketch, and
// lastBin the index of the last.
const (
	rollupBins = "64"
	lastBin    = "63"
)

// maxMinutes bounds the (tenant, name, minute) triples one rollupMinutes
// statement names twice in its text, which the server refuses beyond
// max_query_size (256 KiB by default).
const maxMinutes = 500

// InsertMetrics stores samples as one block, all or none, then recomputes
// the rollup rows of every minute they fall in. A sample whose (tenant,
// event_id) is stored already, or repeated in the batch, keeps its first
// copy, as logs do, and the recomputation reads the deduplicated samples,
// so no copy is ever counted twice.
func (s *Store) InsertMetrics(ctx context.Context, samples []schema.Metric) error {
	if len(samples) == 0 {
		return nil
	}
	for i, m := range samples {
		if err := checkSample(&m); err != nil {
			return fmt.Errorf("insert metrics batch: sample %d: %w", i, err)
		}
	}
	sampleTask := func(m *schema.Metric) taskKey { return taskKey{m.Tenant, m.TaskID} }
	del, err := deletionsOf(ctx, s, samples, sampleTask)
	if err != nil {
		return fmt.Errorf("insert metrics batch: %w", err)
	}
	if samples = withoutCovered(samples, del, sampleTask, func(m *schema.Metric, o schema.Order) bool { return m.Timestamp <= o.Timestamp }); len(samples) == 0 {
		return nil
	}
	touched := make(map[minuteKey]bool)
	for _, m := range samples {
		touched[minuteKey{m.Tenant, m.Name, floorMinute(m.Timestamp)}] = true
	}
	labelKeys, labelValues := attributeColumns(samples, func(m *schema.Metric) map[string]string { return m.Labels })
	err = s.insertColumns(ctx, insertMetrics,
		column(samples, func(m *schema.Metric) string { return m.Tenant }),
		column(samples, func(m *schema.Metric) string { return m.EventID }),
		column(samples, func(m *schema.Metric) int64 { return m.Timestamp }),
		column(samples, func(m *schema.Metric) int64 { return m.IngestOrder }),
		column(samples, func(m *schema.Metric) string { return m.Name }),
		column(samples, func(m *schema.Metric) string { return string(cmp.Or(m.Kind, schema.KindGauge)) }),
		column(samples, func(m *schema.Metric) float64 { return m.Value }),
		column(samples, func(m *schema.Metric) string { return m.Unit }),
		labelKeys, labelValues,
		column(samples, func(m *schema.Metric) string { return m.TaskID }),
		firstWinsColumn(len(samples)),
	)
	if err != nil {
		return fmt.Errorf("insert metrics batch: %w", err)
	}

	if err := s.recomputeRollup(ctx, touched); err != nil {
		return fmt.Errorf("insert metrics batch: %w", err)
	}
	return nil
}

// minuteKey names the rollup rows of one metric of a tenant in a minute.
type minuteKey struct {
	tenant, name string
	minute       int64
}

// recomputeRollup computes the rollup rows of the minutes touched again
// from the samples stored in them.
func (s *Store) recomputeRollup(ctx context.Context, touched map[minuteKey]bool) error {
	keys := make([]minuteKey, 0, len(touched))
	for k := range touched {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b minuteKey) int {
		return cmp.Or(cmp.Compare(a.tenant, b.tenant), cmp.Compare(a.name, b.name), cmp.Compare(a.minute, b.minute))
	})
	for chunk := range slices.Chunk(keys, maxMinutes) {
		var tenants []string
		triples := make([]any, len(chunk))
		for i, k := range chunk {
			if i == 0 || k.tenant != chunk[i-1].tenant {
				tenants = append(tenants, k.tenant)
			}
			triples[i] = clickhouse.GroupSet{Value: []any{k.tenant, k.name, k.minute}}
		}
		set := clickhouse.GroupSet{Value: triples}
		if err := s.conn.Exec(ctx, rollupMinutes, groupSet(tenants), set, set, groupSet(tenants)); err != nil {
			return fmt.Errorf("recompute rollup: %w", err)
		}
	}
	return nil
}

// checkSample checks the fields every stored sample needs. A value must be
// finite, since sums and quantile states cannot hold anything else, and a
// timestamp positive, since rollup minutes truncate (see minuteOf).
func checkSample(m *schema.Metric) error {
	switch {
	case m.Tenant == "" || m.EventID == "" || m.Name == "":
		return fmt.Errorf("tenant, event_id and name are required")
	case m.Timestamp <= 0:
		return fmt.Errorf("timestamp %d is not positive unix milliseconds", m.Timestamp)
	case math.IsNaN(m.Value) || math.IsInf(m.Value, 0):
		return fmt.Errorf("value %v is not finite", m.Value)
	case m.Kind != "" && !m.Kind.Valid():
		return fmt.Errorf("unknown kind %q", m.Kind)
	}
	return nil
}

// floorMinute is the start of the rollup minute holding ts, also before
// 1970.
func floorMinute(ts int64) int64 {
	m := ts - ts%store.RollupStep
	if m > ts {
		m -= store.RollupStep
	}
	return m
}
