package clickhouse

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/taskpulse/taskpulse/schema"
)

// insertProgress names its columns: 18.16 answers a bare "INSERT INTO t"
// from the native batch API with an empty header, and the batch then has
// no columns to append to.
const insertProgress = `INSERT INTO progress_events (tenant, task_id, event_id, timestamp, seq, ingest_order, user_id, task_type, task_name, status, progress, current_step, steps_done, steps_total, message, eta, error, attr_keys, attr_values, version)`

// InsertProgress stores events as one block (see insertRows), so the batch
// is stored all or none. Each row's version follows firstWins, so of several
// copies of one event the one stored first wins, in this call or across
// calls (see the events table).
func (s *Store) InsertProgress(ctx context.Context, events []schema.Progress) error {
	if len(events) == 0 {
		return nil
	}
	for i, e := range events {
		if e.Tenant == "" || e.EventID == "" || e.TaskID == "" || e.Timestamp == 0 || !e.Status.Valid() {
			return fmt.Errorf("insert progress batch: event %d lacks tenant, event_id, task_id, timestamp or a valid status", i)
		}
	}
	first := firstWins()
	err := s.insertRows(ctx, insertProgress, len(events), func(i int) []any {
		e := &events[i]
		keys, values := splitAttributes(e.Attributes)
		return []any{
			e.Tenant, e.TaskID, e.EventID, e.Timestamp, e.Seq, e.IngestOrder,
			e.UserID, e.TaskType, e.TaskName, string(e.Status), e.Progress,
			e.CurrentStep, e.StepsDone, e.StepsTotal, e.Message, e.ETA, e.Error,
			keys, values, first - uint64(i),
		}
	})
	if err != nil {
		return fmt.Errorf("insert progress batch: %w", err)
	}
	return nil
}

// firstWins is the version of the first row of a batch inserted now into a
// table where the copy of a row stored first must win: 2^64-1 minus the
// time in nanoseconds. Row i of the batch takes firstWins()-i, so a repeat
// within the batch loses to its earlier copy too.
func firstWins() uint64 {
	return uint64(math.MaxUint64) - uint64(time.Now().UnixNano())
}

// insertRows sends n rows, row(i) giving the values of row i in the
// statement's column order, as one block through the batch API. One block
// on a table without a partition key becomes one part, which the server
// makes visible at once, so the rows are stored all or none.
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

// splitAttributes turns a map into the parallel key and value arrays the
// table stores, sorted by key so equal maps give equal rows.
func splitAttributes(m map[string]string) (keys, values []string) {
	keys = make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	values = make([]string, len(keys))
	for i, k := range keys {
		values[i] = m[k]
	}
	return keys, values
}

// joinAttributes is the inverse of splitAttributes; no attributes give nil.
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
