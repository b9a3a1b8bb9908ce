package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/taskpulse/taskpulse/internal/store"
)

// A series query aggregates "parts": rows that each carry a group key g
// (the GroupBy label values), a bucket start t and partial aggregates of
// some samples of that group and bucket. For the exact aggregations a
// rollup row is the part of one series' minute, and the raw samples of a
// group and bucket are folded into one part; for the quantiles every part
// is a weighted point. The outer query combines the parts of each group and
// bucket the same way whatever they came from, which makes both paths exact
// for every aggregation but the quantiles, and those within 1/128 of the
// bucket's range (see schema/clickhouse/0008_metrics.sql).
//
// Each part select takes, in order, the group key's arguments, the bucket
// origin and step, then its range, then the matchers' arguments, and a raw
// part then the tenant of the join that leaves out the samples a task's
// deletion covers (see delete.go). The
// matchers apply after FINAL in the raw part, like every filter on a column
// outside the sorting key; in the rollup the labels are sorting key columns,
// so they may be a PREWHERE.
const (
	// The buckets' starts, as "%%" since the part selects are formats.
	// The step is cast because 18.16 gives Int64 % 60000 the type Int16.
	rollupBucket = `toInt64(minute - (minute - toInt64(?)) %% toInt64(?))`
	rawBucket    = `toInt64(timestamp - (timestamp - toInt64(?)) %% toInt64(?))`

	// rollupRange leaves out the minutes that held samples of a deleted
	// task, which staleRange reads from the samples instead (see
	// schema/clickhouse/0021_metric_stale_minutes.sql).
	rollupRange = `PREWHERE tenant = ? AND name = ? AND minute >= ? AND minute < ?
    AND minute NOT IN (SELECT minute FROM metric_stale_minutes WHERE tenant = ? AND name = ?)`
	// rawRange reads the samples in a range through metric_minutes, whose
	// minutes [floor of from, until) hold every candidate, and keeps those
	// whose winning copy is in the range.
	rawRange = `PREWHERE tenant = ? AND event_id IN
    (SELECT event_id FROM metric_minutes WHERE tenant = ? AND name = ? AND minute >= ? AND minute < ?)
WHERE name = ? AND timestamp >= ? AND timestamp < ?`
	// staleRange reads, in the same way, the samples of the stale minutes
	// in a range of whole minutes.
	staleRange = `PREWHERE tenant = ? AND event_id IN
    (SELECT event_id FROM metric_minutes WHERE tenant = ? AND name = ? AND minute IN ` + staleMinutes + `)
WHERE name = ? AND ` + minuteOf + ` IN ` + staleMinutes
	staleMinutes = `(SELECT minute FROM metric_stale_minutes WHERE tenant = ? AND name = ? AND minute >= ? AND minute < ?)`

	// The parts of the exact aggregations: n samples summing to s, lo and
	// hi the least and greatest, lv the last value and lk its order key.
	rollupExact = `SELECT %s AS g, ` + rollupBucket + ` AS t, samples AS n, total AS s, low AS lo, high AS hi,
    last_value AS lv, (last_ts, last_order, last_event_id) AS lk
FROM metric_rollup FINAL
` + rollupRange + `%s`
	rawExact = `SELECT g, t, count() AS n, sum(value) AS s, min(value) AS lo, max(value) AS hi, argMax(value, key) AS lv, max(key) AS lk
FROM
(
    SELECT %s AS g, ` + rawBucket + ` AS t, value, (timestamp, ingest_order, event_id) AS key, tenant, task_id, timestamp
    FROM metrics FINAL
    %s%s
)` + deletedAtJoin + `
WHERE timestamp > task_deleted_at
GROUP BY g, t`

	// The parts of the quantiles are weighted points: a raw sample stands
	// for itself, a rollup bin for its samples, at its centre.
	rollupPoints = `SELECT %s AS g, ` + rollupBucket + ` AS t, low + (bin + 0.5) * (high - low) / ` + rollupBins + ` AS v, weight AS w
FROM metric_rollup FINAL
ARRAY JOIN bins AS bin, counts AS weight
` + rollupRange + `%s`
	rawPoints = `SELECT g, t, v, w
FROM
(
    SELECT %s AS g, ` + rawBucket + ` AS t, value AS v, toUInt64(1) AS w, tenant, task_id, timestamp
    FROM metrics FINAL
    %s%s
)` + deletedAtJoin + `
WHERE timestamp > task_deleted_at`

	selectSeries = `SELECT g, t, toFloat64(%s) AS v
FROM
(
%s
)
GROUP BY g, t
ORDER BY g, t`
)

// combineExact says how the exact parts of one group and bucket give its
// value.
var combineExact = map[store.Aggregation]string{
	store.AggAvg:   `sum(s) / sum(n)`,
	store.AggMin:   `min(lo)`,
	store.AggMax:   `max(hi)`,
	store.AggSum:   `sum(s)`,
	store.AggCount: `sum(n)`,
	store.AggLast:  `argMax(lv, lk)`,
}

// quantileLevels are the levels of the quantile aggregations. The
// quantile of the weighted points is taken by nearest rank.
var quantileLevels = map[store.Aggregation]string{
	store.AggP50: "0.5", store.AggP90: "0.9", store.AggP95: "0.95", store.AggP99: "0.99",
}

// seriesPlan splits [From, To) between the rollup and the raw samples.
// The rollup serves whole minutes when buckets are whole minutes starting
// on a minute; the raw samples serve the rest, which is then at most the
// last, partial minute before To.
type seriesPlan struct {
	rollupFrom, rollupUntil int64 // empty when equal
	rawFrom, rawUntil       int64
}

func planSeries(q store.SeriesQuery) seriesPlan {
	p := seriesPlan{rawFrom: q.From, rawUntil: q.To}
	// The rollup has no task_id, so a task's series are read raw.
	if q.TaskID == "" && q.Step%store.RollupStep == 0 && floorMinute(q.From) == q.From {
		p.rollupFrom, p.rollupUntil = q.From, max(q.From, floorMinute(q.To))
		p.rawFrom = p.rollupUntil
	}
	return p
}

// MetricSeries aggregates one metric's samples per q. Series are ordered
// by their GroupBy values, in GroupBy order; a series' Labels hold its
// GroupBy labels that have a value.
func (s *Store) MetricSeries(ctx context.Context, q store.SeriesQuery) ([]store.Series, error) {
	if q.Tenant == "" {
		return nil, errors.New("metric series: tenant is required")
	}
	if q.Step <= 0 || q.To <= q.From {
		return nil, fmt.Errorf("metric series: need step > 0 and to > from, got step %d over [%d, %d)", q.Step, q.From, q.To)
	}
	query, args, err := seriesQuery(q)
	if err != nil {
		return nil, fmt.Errorf("metric series %s: %w", q.Name, err)
	}
	series, err := s.scanSeries(ctx, q.GroupBy, query, args)
	if err != nil {
		return nil, fmt.Errorf("metric series %s: %w", q.Name, err)
	}
	return series, nil
}

// seriesQuery writes the query of q: the parts of the rollup and of the
// raw samples that the plan uses, as a UNION ALL, combined per group and
// bucket.
func seriesQuery(q store.SeriesQuery) (string, []any, error) {
	agg, rollupPart, rawPart := combineExact[q.Agg], rollupExact, rawExact
	if level, ok := quantileLevels[q.Agg]; ok {
		agg, rollupPart, rawPart = `quantileExactWeighted(`+level+`)(v, w)`, rollupPoints, rawPoints
	}
	if agg == "" {
		return "", nil, fmt.Errorf("unknown aggregation %q", q.Agg)
	}
	conds, matchArgs, err := matcherConditions(metricLabels, q.Matchers)
	if err != nil {
		return "", nil, err
	}
	if q.TaskID != "" {
		// After FINAL, as the winning copy's task_id is the one that
		// counts; planSeries leaves the rollup, which has none, out.
		conds, matchArgs = append(conds, "task_id = ?"), append(matchArgs, q.TaskID)
	}
	matchers := ""
	for _, c := range conds {
		matchers += " AND " + c
	}
	group, groupArgs := metricLabels.groupKey(q.GroupBy)
	head := append(groupArgs, q.From, q.Step)

	var (
		parts []string
		args  []any
	)
	p := planSeries(q)
	tenants := groupSet([]string{q.Tenant})
	if p.rollupUntil > p.rollupFrom {
		parts = append(parts, fmt.Sprintf(rollupPart, group, matchers))
		args = append(append(append(args, head...), q.Tenant, q.Name, p.rollupFrom, p.rollupUntil, q.Tenant, q.Name), matchArgs...)
		stale := []any{q.Tenant, q.Name, p.rollupFrom, p.rollupUntil}
		parts = append(parts, fmt.Sprintf(rawPart, group, staleRange, matchers))
		args = append(append(append(append(append(append(args, head...), q.Tenant, q.Tenant, q.Name), stale...), q.Name), stale...),
			matchArgs...)
		args = append(args, tenants)
	}
	if p.rawUntil > p.rawFrom {
		parts = append(parts, fmt.Sprintf(rawPart, group, rawRange, matchers))
		args = append(append(append(args, head...), q.Tenant, q.Tenant, q.Name, floorMinute(p.rawFrom), p.rawUntil,
			q.Name, p.rawFrom, p.rawUntil), matchArgs...)
		args = append(args, tenants)
	}
	return fmt.Sprintf(selectSeries, agg, strings.Join(parts, "\nUNION ALL\n")), args, nil
}

// scanSeries runs a series query, whose rows come ordered by group key,
// then time, and gathers them into series.
func (s *Store) scanSeries(ctx context.Context, groupBy []string, query string, args []any) ([]store.Series, error) {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		series []store.Series
		last   []string
	)
	for rows.Next() {
		var (
			g  []string
			pt store.Point
		)
		if err := rows.Scan(&g, &pt.T, &pt.V); err != nil {
			return nil, err
		}
		if len(series) == 0 || !slices.Equal(g, last) {
			labels := make(map[string]string, len(groupBy))
			for i, name := range groupBy {
				if g[i] != "" {
					labels[name] = g[i]
				}
			}
			series = append(series, store.Series{Labels: labels})
			last = g
		}
		cur := &series[len(series)-1]
		cur.Points = append(cur.Points, pt)
	}
	return series, rows.Err()
}
