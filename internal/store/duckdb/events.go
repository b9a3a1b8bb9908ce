package duckdb

import (
	"context"
	"fmt"
	"strings"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// A timeline page is selectTaskEvents, the cursor condition when paging
// on, then orderEventsOldestFirst.
const (
	selectTaskEvents       = `SELECT ` + eventColumns + ` FROM progress_events WHERE tenant = ? AND task_id = ?`
	whereAfterEventCursor  = ` AND (timestamp, seq, ingest_order, event_id) > (?, ?, ?, ?)`
	orderEventsOldestFirst = ` ORDER BY timestamp, seq, ingest_order, event_id LIMIT ?`
)

// TaskEvents returns a page of one task's events, oldest first by the
// order key. A task without events yields an empty page, not an error.
func (s *Store) TaskEvents(ctx context.Context, tenant, taskID string, f store.EventFilter) ([]schema.Progress, error) {
	if f.Limit <= 0 {
		return nil, fmt.Errorf("list task events: limit must be positive, got %d", f.Limit)
	}
	var q strings.Builder
	q.WriteString(selectTaskEvents)
	args := []any{tenant, taskID}
	if c := f.After; c != nil {
		q.WriteString(whereAfterEventCursor)
		args = append(args, c.Timestamp, c.Seq, c.IngestOrder, c.EventID)
	}
	q.WriteString(orderEventsOldestFirst)
	args = append(args, f.Limit)

	rows, err := s.query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("list task events: %w", err)
	}
	defer rows.Close()
	events := make([]schema.Progress, 0, min(f.Limit, 1024))
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("list task events: %w", err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list task events: %w", err)
	}
	return events, nil
}
