package duckdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// selectTaskMetrics sums up a task's samples per metric name. A task's
// deletion removes its samples from the table (see delete.go), so what is
// left is what the task reported since.
const selectTaskMetrics = `SELECT name, arg_max(kind, {'t': timestamp, 'o': ingest_order, 'e': event_id}),
    arg_max(unit, {'t': timestamp, 'o': ingest_order, 'e': event_id}), count(*), min(timestamp), max(timestamp)
FROM metrics WHERE tenant = ? AND task_id = ?
GROUP BY name ORDER BY name LIMIT ?`

// TaskMetrics lists the metrics whose samples carry taskID, by name.
func (s *Store) TaskMetrics(ctx context.Context, tenant, taskID string, limit int) ([]store.TaskMetric, error) {
	if tenant == "" || taskID == "" {
		return nil, errors.New("task metrics: tenant and task id are required")
	}
	if limit <= 0 {
		return nil, fmt.Errorf("task metrics: limit must be positive, got %d", limit)
	}
	rows, err := s.query(ctx, selectTaskMetrics, tenant, taskID, limit)
	if err != nil {
		return nil, fmt.Errorf("task metrics of %s: %w", taskID, err)
	}
	defer rows.Close()
	var out []store.TaskMetric
	for rows.Next() {
		var (
			m    store.TaskMetric
			kind string
		)
		if err := rows.Scan(&m.Name, &kind, &m.Unit, &m.Samples, &m.First, &m.Last); err != nil {
			return nil, fmt.Errorf("task metrics of %s: %w", taskID, err)
		}
		m.Kind = schema.MetricKind(kind)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("task metrics of %s: %w", taskID, err)
	}
	return out, nil
}
