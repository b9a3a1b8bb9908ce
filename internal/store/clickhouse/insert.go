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

// InsertProgress stores events as one block. One block on a table without
// a partition key becomes one part, which the server makes visible at once,
// so the batch is stored all or none.
//
// Each row's version is 2^64-1 minus the insert time in nanoseconds, less
// its position in the batch, so of several copies of one event the one
// stored first wins, in this call or across calls (see the events table).
func (s *Store) InsertProgress(ctx context.Context, events []schema.Progress) error {
	if len(events) == 0 {
		return nil
	}
	for i, e := range events {
		if e.Tenant == "" || e.EventID == "" || e.TaskID == "" || e.Timestamp == 0 || !e.Status.Valid() {
			return fmt.Errorf("insert progress batch: event %d lacks tenant, event_id, task_id, timestamp or a valid status", i)
		}
	}
	batch, err := s.conn.PrepareBatch(ctx, insertProgress)
	if err != nil {
		return fmt.Errorf("insert progress batch: %w", err)
	}
	defer batch.Abort()

	first := uint64(math.MaxUint64) - uint64(time.Now().UnixNano())
	for i, e := range events {
		keys, values := splitAttributes(e.Attributes)
		err := batch.Append(
			e.Tenant, e.TaskID, e.EventID, e.Timestamp, e.Seq, e.IngestOrder,
			e.UserID, e.TaskType, e.TaskName, string(e.Status), e.Progress,
			e.CurrentStep, e.StepsDone, e.StepsTotal, e.Message, e.ETA, e.Error,
			keys, values, first-uint64(i),
		)
		if err != nil {
			return fmt.Errorf("insert progress batch: event %d: %w", i, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert progress batch: %w", err)
	}
	return nil
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
