package duckdb

import (
	"database/sql/driver"
	"fmt"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// rollupKey names one row of metric_rollup: a series in a minute.
type rollupKey struct {
	tenant, name, series string
	minute               int64
}

// rollupRow is one series' samples in one minute, folded. Rows from a batch
// and the stored row of the same key merge into the row of all their
// samples, so a minute written by many batches equals one written at once.
type rollupRow struct {
	rollupKey
	keys, values []string
	count        int64
	sum          float64
	min, max     float64
	last         lastSample
	sketch       sketch
}

// lastSample is the latest sample by (timestamp, ingest order, event id),
// the order the raw series query uses for "last".
type lastSample struct {
	value     float64
	timestamp int64
	order     int64
	eventID   string
}

func (a lastSample) after(b lastSample) bool {
	switch {
	case a.timestamp != b.timestamp:
		return a.timestamp > b.timestamp
	case a.order != b.order:
		return a.order > b.order
	default:
		return a.eventID > b.eventID
	}
}

// minuteOf is the start of the rollup minute holding ts, flooring also
// before 1970.
func minuteOf(ts int64) int64 {
	m := ts - ts%store.RollupStep
	if m > ts {
		m -= store.RollupStep
	}
	return m
}

// foldSamples folds new samples into one row per series and minute.
func foldSamples(samples []*schema.Metric) map[rollupKey]*rollupRow {
	rows := make(map[rollupKey]*rollupRow)
	values := make(map[rollupKey][]float64)
	for _, m := range samples {
		series := attrJSON(m.Labels)
		k := rollupKey{m.Tenant, m.Name, series, minuteOf(m.Timestamp)}
		last := lastSample{m.Value, m.Timestamp, m.IngestOrder, m.EventID}
		r := rows[k]
		if r == nil {
			keys, vals := attrArrays(m.Labels)
			r = &rollupRow{rollupKey: k, keys: keys, values: vals, min: m.Value, max: m.Value, last: last}
			rows[k] = r
		}
		r.count++
		r.sum += m.Value
		r.min, r.max = min(r.min, m.Value), max(r.max, m.Value)
		if last.after(r.last) {
			r.last = last
		}
		values[k] = append(values[k], m.Value)
	}
	for k, r := range rows {
		r.sketch = newSketch(values[k], r.min, r.max)
	}
	return rows
}

// merge adds o's samples, of the same key, to r.
func (r *rollupRow) merge(o *rollupRow) {
	r.count += o.count
	r.sum += o.sum
	r.min, r.max = min(r.min, o.min), max(r.max, o.max)
	if o.last.after(r.last) {
		r.last = o.last
	}
	r.sketch = r.sketch.merge(o.sketch, r.min, r.max)
}

// rollupColumns fixes the order of metric_rollup's columns for appending
// and reading.
const rollupColumns = `tenant, name, series, label_keys, label_values, minute, count, sum, min, max,
    last_value, last_ts, last_order, last_event_id, q_exp, q_bins, q_counts`

var rollupColumnNames = columnNames(rollupColumns)

// rollupValues appends r's values in the order of rollupColumns.
func rollupValues(row []driver.Value, r *rollupRow) []driver.Value {
	return append(row, r.tenant, r.name, r.series, r.keys, r.values, r.minute, r.count, r.sum, r.min, r.max,
		r.last.value, r.last.timestamp, r.last.order, r.last.eventID, int32(r.sketch.exp), r.sketch.bins, r.sketch.counts)
}

// scanRollup reads a row selected with rollupColumns.
func scanRollup(s scanner) (*rollupRow, error) {
	var (
		r                          rollupRow
		keys, values, bins, counts []any
		exp                        int32
	)
	err := s.Scan(&r.tenant, &r.name, &r.series, &keys, &values, &r.minute, &r.count, &r.sum, &r.min, &r.max,
		&r.last.value, &r.last.timestamp, &r.last.order, &r.last.eventID, &exp, &bins, &counts)
	if err != nil {
		return nil, err
	}
	if r.keys, err = listOf[string](keys); err != nil {
		return nil, fmt.Errorf("label keys: %w", err)
	}
	if r.values, err = listOf[string](values); err != nil {
		return nil, fmt.Errorf("label values: %w", err)
	}
	r.sketch.exp = int(exp)
	if r.sketch.bins, err = listOf[int64](bins); err != nil {
		return nil, fmt.Errorf("sketch bins: %w", err)
	}
	if r.sketch.counts, err = listOf[int64](counts); err != nil {
		return nil, fmt.Errorf("sketch counts: %w", err)
	}
	return &r, nil
}

// listOf converts a list as the driver scans it.
func listOf[T any](l []any) ([]T, error) {
	out := make([]T, len(l))
	for i, v := range l {
		t, ok := v.(T)
		if !ok {
			return nil, fmt.Errorf("element %d is %T", i, v)
		}
		out[i] = t
	}
	return out, nil
}
