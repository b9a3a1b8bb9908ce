package clickhouse

import (
	"context"
	"errors"
	"fmt"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// selectEvents reads one task through the primary key. The tenant and task
// are a PREWHERE, which FINAL allows because they are sorting key columns
// (see stateSelect). The deletion and the cursor compare non-key columns,
// so they are a WHERE and apply after FINAL has kept the first copy of
// each event. Arguments: tenant, task id, the same for deletedKey, the
// cursor's when paging on, limit.
const selectEvents = `SELECT event_id, timestamp, seq, ingest_order, user_id, task_type, task_name, status, progress,
    current_step, steps_done, steps_total, message, eta, error, attr_keys, attr_values
FROM progress_events FINAL
PREWHERE tenant = ? AND task_id = ?
WHERE (timestamp, seq, ingest_order, event_id) > ` + deletedKey + `%s
ORDER BY timestamp, seq, ingest_order, event_id
LIMIT ?`

// TaskEvents returns one task's events, oldest first by (timestamp, seq,
// ingest_order, event_id), each once however often it was stored, and
// none its deletion covers.
func (s *Store) TaskEvents(ctx context.Context, tenant, taskID string, f store.EventFilter) ([]schema.Progress, error) {
	if tenant == "" {
		return nil, errors.New("read task events: tenant is required")
	}
	if f.Limit <= 0 {
		return nil, errors.New("read task events: limit must be positive")
	}
	after := ""
	args := []any{tenant, taskID, tenant, taskID}
	if c := f.After; c != nil {
		after = "\n    AND (timestamp, seq, ingest_order, event_id) > (?, ?, ?, ?)"
		args = append(args, c.Timestamp, c.Seq, c.IngestOrder, c.EventID)
	}
	args = append(args, f.Limit)

	rows, err := s.conn.Query(ctx, fmt.Sprintf(selectEvents, after), args...)
	if err != nil {
		return nil, fmt.Errorf("read task events: %w", err)
	}
	defer rows.Close()
	var events []schema.Progress
	for rows.Next() {
		e := schema.Progress{Tenant: tenant, TaskID: taskID}
		var (
			status       string
			keys, values []string
		)
		err := rows.Scan(
			&e.EventID, &e.Timestamp, &e.Seq, &e.IngestOrder, &e.UserID, &e.TaskType, &e.TaskName,
			&status, &e.Progress, &e.CurrentStep, &e.StepsDone, &e.StepsTotal, &e.Message,
			&e.ETA, &e.Error, &keys, &values,
		)
		if err != nil {
			return nil, fmt.Errorf("read task events: %w", err)
		}
		e.Status = schema.Status(status)
		e.Attributes = joinAttributes(keys, values)
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read task events: %w", err)
	}
	return events, nil
}
