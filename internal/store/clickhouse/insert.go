package clickhouse

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/taskpulse/taskpulse/schema"
)

// insertProgress names its columns: 18.16 answers a bare "INSERT INTO t"
// from the native batch API with an empty header, and the batch then has
// no columns to append to.
const insertProgress = `INSERT INTO progress_events (tenant, task_id, event_id, timestamp, seq, ingest_order, user_id, task_type, task_name, status, progress, current_step, steps_done, steps_total, message, eta, error, attr_keys, attr_values, version)`

// InsertProgress stores events as one block (see insertColumns), so the
// batch is stored all or none. Each row's version follows firstWins, so of
// several copies of one event the one stored first wins, in this call or
// across calls (see the events table). Tombstones delete their tasks
// first, and events a deletion covers are dropped (see delete.go); a
// tombstone older than its task's stored deletion changes nothing, and the
// stored one delivered again runs the deletion again, which finishes one a
// failed batch left undone.
func (s *Store) InsertProgress(ctx context.Context, events []schema.Progress) error {
	if len(events) == 0 {
		return nil
	}
	for i, e := range events {
		if e.Tenant == "" || e.EventID == "" || e.TaskID == "" || e.Timestamp == 0 || !e.Status.Valid() {
			return fmt.Errorf("insert progress batch: event %d lacks tenant, event_id, task_id, timestamp or a valid status", i)
		}
	}
	del, err := deletionsOf(ctx, s, events, progressTask)
	if err != nil {
		return fmt.Errorf("insert progress batch: %w", err)
	}
	tombs, events := splitTombstones(events, del)
	events = withoutCovered(events, del, progressTask, func(e *schema.Progress, o schema.Order) bool { return !e.Order().After(o) })
	if len(tombs) > 0 {
		if err := s.applyDeletions(ctx, tombs); err != nil {
			return fmt.Errorf("insert progress batch: %w", err)
		}
	}
	if len(events) == 0 {
		return nil
	}
	keys, values := attributeColumns(events, func(e *schema.Progress) map[string]string { return e.Attributes })
	err = s.insertColumns(ctx, insertProgress,
		column(events, func(e *schema.Progress) string { return e.Tenant }),
		column(events, func(e *schema.Progress) string { return e.TaskID }),
		column(events, func(e *schema.Progress) string { return e.EventID }),
		column(events, func(e *schema.Progress) int64 { return e.Timestamp }),
		column(events, func(e *schema.Progress) int64 { return e.Seq }),
		column(events, func(e *schema.Progress) int64 { return e.IngestOrder }),
		column(events, func(e *schema.Progress) string { return e.UserID }),
		column(events, func(e *schema.Progress) string { return e.TaskType }),
		column(events, func(e *schema.Progress) string { return e.TaskName }),
		column(events, func(e *schema.Progress) string { return string(e.Status) }),
		column(events, func(e *schema.Progress) *float64 { return e.Progress }),
		column(events, func(e *schema.Progress) string { return e.CurrentStep }),
		column(events, func(e *schema.Progress) int64 { return e.StepsDone }),
		column(events, func(e *schema.Progress) int64 { return e.StepsTotal }),
		column(events, func(e *schema.Progress) string { return e.Message }),
		column(events, func(e *schema.Progress) *int64 { return e.ETA }),
		column(events, func(e *schema.Progress) string { return e.Error }),
		keys, values, firstWinsColumn(len(events)),
	)
	if err != nil {
		return fmt.Errorf("insert progress batch: %w", err)
	}
	return nil
}

func progressTask(e *schema.Progress) taskKey { return taskKey{e.Tenant, e.TaskID} }

// firstWins is the version of the first row of a batch inserted now into a
// table where the copy of a row stored first must win: 2^64-1 minus the
// time in nanoseconds. Row i of the batch takes firstWins()-i, so a repeat
// within the batch loses to its earlier copy too.
func firstWins() uint64 {
	return uint64(math.MaxUint64) - uint64(time.Now().UnixNano())
}

// firstWinsColumn is the version column of n rows inserted now (see
// firstWins).
func firstWinsColumn(n int) []uint64 {
	first := firstWins()
	versions := make([]uint64, n)
	for i := range versions {
		versions[i] = first - uint64(i)
	}
	return versions
}

// insertColumns sends one block through the batch API, cols[i] holding
// column i of the statement, one value per row. Each column goes to the
// driver in one call, which spares it a type switch and the boxing of
// every value of every row. One block on a table without a partition key
// becomes one part, which the server makes visible at once, so the rows
// are stored all or none.
func (s *Store) insertColumns(ctx context.Context, query string, cols ...any) error {
	batch, err := s.conn.PrepareBatch(ctx, query)
	if err != nil {
		return err
	}
	defer batch.Abort()
	for i, c := range cols {
		if err := appendColumn(batch.Column(i), c); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return batch.Send()
}

// stringArrays is an Array(String) column. The driver takes a whole array
// column only through reflection, value by value, but has a plain path
// for one row's []string, so it goes in row by row.
type stringArrays [][]string

func appendColumn(col driver.BatchColumn, values any) error {
	arrays, ok := values.(stringArrays)
	if !ok {
		return col.Append(values)
	}
	for _, row := range arrays {
		if err := col.AppendRow(row); err != nil {
			return err
		}
	}
	return nil
}

// insertRows sends n rows, row(i) giving the values of row i in the
// statement's column order, as one block, like insertColumns. It suits
// small batches; large ones go through insertColumns.
func (s *Store) insertRows(ctx context.Context, query string, n int, row func(i int) []any) error {
	batch, err := s.conn.PrepareBatch(ctx, query)
	if err != nil {
		return err
	}
	defer batch.Abort()
	for i := range n {
		if err := batch.Append(row(i)...); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
	}
	return batch.Send()
}

// column is one column of a block: get applied to every record.
func column[R, V any](recs []R, get func(*R) V) []V {
	col := make([]V, len(recs))
	for i := range recs {
		col[i] = get(&recs[i])
	}
	return col
}

// attributeColumns turns the maps get reads from recs into the parallel
// key and value array columns the tables store, each row sorted by key so
// equal maps give equal rows. The rows' arrays share two backing arrays,
// so a batch costs two allocations, not two per row.
func attributeColumns[R any](recs []R, get func(*R) map[string]string) (keys, values stringArrays) {
	total := 0
	for i := range recs {
		total += len(get(&recs[i]))
	}
	allKeys, allValues := make([]string, 0, total), make([]string, 0, total)
	keys, values = make(stringArrays, len(recs)), make(stringArrays, len(recs))
	for i := range recs {
		m := get(&recs[i])
		start := len(allKeys)
		for k := range m {
			allKeys = append(allKeys, k)
		}
		rowKeys := allKeys[start:len(allKeys):len(allKeys)]
		slices.Sort(rowKeys)
		for _, k := range rowKeys {
			allValues = append(allValues, m[k])
		}
		keys[i], values[i] = rowKeys, allValues[start:len(allValues):len(allValues)]
	}
	return keys, values
}

// joinAttributes is the inverse of attributeColumns for one row; no
// attributes give nil.
func joinAttributes(keys, values []string) map[string]string {
	if len(keys) == 0 {
		return nil
	}
	m := make(map[string]string, len(keys))
	for i, k := range keys {
		if i < len(values) {
			m[k] = values[i]
		}
	}
	return m
}
