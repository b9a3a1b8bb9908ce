package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/taskpulse/taskpulse/internal/store"
)

// A series query aggregates "parts": rows that each carry one group key
// (the GroupBy label values), a bucket start t, and partial aggregates n
// (count), s (sum), lo, hi, lv (last value) and lk (its order key). A raw
// sample is a part of one; a rollup row is a part of a minute. The outer
// query combines the parts of each group and bucket the same way whatever
// they came from, which is what makes both paths exact for every
// aggregation but the quantiles.
const (
	rollupParts = `SELECT ` + groupKeyOfLabels + ` AS g, minute - (minute - ?) % ? AS t,
    count AS n, sum AS s, min AS lo, max AS hi, last_value AS lv,
    {'t': last_ts, 'o': last_order, 'e': last_event_id} AS lk
FROM metric_rollup WHERE tenant = ? AND name = ? AND minute >= ? AND minute < ?`
	rawParts = `SELECT ` + groupKeyOfLabels + ` AS g, timestamp - (timestamp - ?) % ? AS t,
    1::BIGINT AS n, value AS s, value AS lo, value AS hi, value AS lv,
    {'t': timestamp, 'o': ingest_order, 'e': event_id} AS lk
FROM metrics WHERE tenant = ? AND name = ? AND timestamp >= ? AND timestamp < ?`

	groupKeyOfLabels = `list_transform(?::VARCHAR[], k -> coalesce(label_values[list_position(label_keys, k)], ''))`

	// Quantiles from the rollup are computed in Go from each minute's
	// sketch, so those parts carry the sketch; a raw sample has no
	// exponent and stands for itself.
	rollupSketchParts = `SELECT ` + groupKeyOfLabels + ` AS g, minute - (minute - ?) % ? AS t,
    min AS lo, max AS hi, q_exp, q_bins, q_counts
FROM metric_rollup WHERE tenant = ? AND name = ? AND minute >= ? AND minute < ?`
	rawSketchParts = `SELECT ` + groupKeyOfLabels + ` AS g, timestamp - (timestamp - ?) % ? AS t,
    value AS lo, value AS hi, NULL::INTEGER AS q_exp, []::BIGINT[] AS q_bins, []::BIGINT[] AS q_counts
FROM metrics WHERE tenant = ? AND name = ? AND timestamp >= ? AND timestamp < ?`
	orderSketchParts = ` ORDER BY g, t`
)

// partsAggregates combine parts into one value per group and bucket.
// Every one is cast to DOUBLE, which is what a Point holds.
var partsAggregates = map[store.Aggregation]string{
	store.AggAvg:   `sum(s) / sum(n)`,
	store.AggMin:   `min(lo)`,
	store.AggMax:   `max(hi)`,
	store.AggSum:   `sum(s)`,
	store.AggCount: `sum(n)`,
	store.AggLast:  `arg_max(lv, lk)`,
}

// quantiles are the levels of the quantile aggregations. Over raw parts
// only, DuckDB computes them exactly with quantile_cont.
var quantiles = map[store.Aggregation]float64{
	store.AggP50: 0.50, store.AggP90: 0.90, store.AggP95: 0.95, store.AggP99: 0.99,
}

// seriesPlan splits [From, To) between the rollup and the raw samples.
// The rollup serves whole minutes when buckets are whole minutes starting
// on a minute; the raw table serves the rest, which is then at most the
// last, partial minute before To.
type seriesPlan struct {
	q                       store.SeriesQuery
	rollupFrom, rollupUntil int64 // empty when equal
	rawFrom, rawUntil       int64
}

func planSeries(q store.SeriesQuery) seriesPlan {
	p := seriesPlan{q: q, rawFrom: q.From, rawUntil: q.To}
	// The rollup has no task_id, so a task's series are read raw.
	if q.TaskID == "" && q.Step%store.RollupStep == 0 && minuteOf(q.From) == q.From {
		p.rollupFrom, p.rollupUntil = q.From, max(q.From, minuteOf(q.To))
		p.rawFrom = p.rollupUntil
	}
	return p
}

func (p seriesPlan) useRollup() bool { return p.rollupUntil > p.rollupFrom }
func (p seriesPlan) useRaw() bool    { return p.rawUntil > p.rawFrom }

// MetricSeries aggregates one metric's samples per q. Series are ordered
// by their GroupBy values, in GroupBy order; a series' Labels hold its
// GroupBy labels that have a value.
func (s *Store) MetricSeries(ctx context.Context, q store.SeriesQuery) ([]store.Series, error) {
	if q.Step <= 0 || q.To <= q.From {
		return nil, fmt.Errorf("metric series: need step > 0 and to > from, got step %d over [%d, %d)", q.Step, q.From, q.To)
	}
	p := planSeries(q)
	var (
		series []store.Series
		err    error
	)
	if level, ok := quantiles[q.Agg]; ok && p.useRollup() {
		series, err = s.sketchSeries(ctx, p, level)
	} else {
		series, err = s.partsSeries(ctx, p)
	}
	if err != nil {
		return nil, fmt.Errorf("metric series %s: %w", q.Name, err)
	}
	return series, nil
}

// partsSQL writes the parts of p, as a UNION ALL of the rollup and raw
// selects in use, each with the matchers, and the raw one with the task
// (planSeries uses no rollup for a task).
func (p seriesPlan) partsSQL(q *strings.Builder, rollupSelect, rawSelect string) ([]any, error) {
	var args []any
	add := func(sel string, from, until int64) error {
		if len(args) > 0 {
			q.WriteString(` UNION ALL `)
		}
		q.WriteString(sel)
		args = append(args, groupBy(p.q), p.q.From, p.q.Step, p.q.Tenant, p.q.Name, from, until)
		var err error
		args, err = matchersSQL(q, args, metricLabels, p.q.Matchers)
		return err
	}
	if p.useRollup() {
		if err := add(rollupSelect, p.rollupFrom, p.rollupUntil); err != nil {
			return nil, err
		}
	}
	if p.useRaw() {
		if err := add(rawSelect, p.rawFrom, p.rawUntil); err != nil {
			return nil, err
		}
		if p.q.TaskID != "" {
			q.WriteString(` AND task_id = ?`)
			args = append(args, p.q.TaskID)
		}
	}
	return args, nil
}

// groupBy is the GroupBy list as a parameter: never nil, so that DuckDB
// binds an empty list rather than NULL.
func groupBy(q store.SeriesQuery) []string {
	if q.GroupBy == nil {
		return []string{}
	}
	return q.GroupBy
}

func (s *Store) partsSeries(ctx context.Context, p seriesPlan) ([]store.Series, error) {
	agg, ok := partsAggregates[p.q.Agg]
	var aggArgs []any
	if level, isQuantile := quantiles[p.q.Agg]; isQuantile {
		// Only raw parts get here, one sample each.
		agg, ok, aggArgs = `quantile_cont(lo, ?)`, true, []any{level}
	}
	if !ok {
		return nil, fmt.Errorf("unknown aggregation %q", p.q.Agg)
	}
	var q strings.Builder
	q.WriteString(`SELECT g, t, CAST(` + agg + ` AS DOUBLE) AS v FROM (`)
	args, err := p.partsSQL(&q, rollupParts, rawParts)
	if err != nil {
		return nil, err
	}
	q.WriteString(`) GROUP BY g, t ORDER BY g, t`)
	rows, err := s.query(ctx, q.String(), append(aggArgs, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var b seriesBuilder
	for rows.Next() {
		var (
			g  []any
			pt store.Point
		)
		if err := rows.Scan(&g, &pt.T, &pt.V); err != nil {
			return nil, err
		}
		if err := b.add(p.q.GroupBy, g, pt); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return b.series, nil
}

// sketchSeries computes quantiles from the rollup's sketches and the raw
// samples of the partial last minute, bucket by bucket.
func (s *Store) sketchSeries(ctx context.Context, p seriesPlan, level float64) ([]store.Series, error) {
	var q strings.Builder
	args, err := p.partsSQL(&q, rollupSketchParts, rawSketchParts)
	if err != nil {
		return nil, err
	}
	q.WriteString(orderSketchParts)
	rows, err := s.query(ctx, q.String(), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		b       seriesBuilder
		cur     *bucketPoints
		pending []any // group key of cur
	)
	flush := func() error {
		if cur == nil {
			return nil
		}
		return b.add(p.q.GroupBy, pending, store.Point{T: cur.t, V: cur.quantile(level)})
	}
	for rows.Next() {
		var (
			g            []any
			t            int64
			lo, hi       float64
			exp          sql.NullInt32
			bins, counts []any
		)
		if err := rows.Scan(&g, &t, &lo, &hi, &exp, &bins, &counts); err != nil {
			return nil, err
		}
		if cur == nil || cur.t != t || !sameKey(pending, g) {
			if err := flush(); err != nil {
				return nil, err
			}
			cur, pending = &bucketPoints{t: t, lo: lo, hi: hi}, g
		}
		if err := cur.add(lo, hi, exp, bins, counts); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return b.series, nil
}

// bucketPoints gathers one group's samples in one bucket as weighted
// values: a raw sample as itself, a rollup minute as its sketch's bins.
type bucketPoints struct {
	t      int64
	lo, hi float64
	points []weighted
}

func (bp *bucketPoints) add(lo, hi float64, exp sql.NullInt32, bins, counts []any) error {
	bp.lo, bp.hi = min(bp.lo, lo), max(bp.hi, hi)
	if !exp.Valid {
		bp.points = append(bp.points, weighted{lo, 1})
		return nil
	}
	sk := sketch{exp: int(exp.Int32)}
	var err error
	if sk.bins, err = listOf[int64](bins); err != nil {
		return fmt.Errorf("sketch bins: %w", err)
	}
	if sk.counts, err = listOf[int64](counts); err != nil {
		return fmt.Errorf("sketch counts: %w", err)
	}
	bp.points = sk.addPoints(bp.points, lo, hi)
	return nil
}

// quantile keeps the estimate within the bucket's exact min and max.
func (bp *bucketPoints) quantile(level float64) float64 {
	return min(max(quantile(bp.points, level), bp.lo), bp.hi)
}

// seriesBuilder collects points arriving ordered by group key, then time.
type seriesBuilder struct {
	series []store.Series
	last   []any
}

func (b *seriesBuilder) add(groupBy []string, g []any, pt store.Point) error {
	if len(b.series) == 0 || !sameKey(b.last, g) {
		labels := make(map[string]string, len(groupBy))
		for i, name := range groupBy {
			v, ok := g[i].(string)
			if !ok {
				return fmt.Errorf("group value %d is %T", i, g[i])
			}
			if v != "" {
				labels[name] = v
			}
		}
		b.series = append(b.series, store.Series{Labels: labels})
		b.last = g
	}
	s := &b.series[len(b.series)-1]
	s.Points = append(s.Points, pt)
	return nil
}

func sameKey(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
