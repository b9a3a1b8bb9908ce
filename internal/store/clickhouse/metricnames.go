package clickhouse

import (
	"context"
	"errors"
	"fmt"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// selectTaskMetrics sums up a task's samples per metric name. Samples are
// sorted by event id, so this reads the tenant's task_id column, as
// selectDeletedMinutes does; the task filter applies after FINAL, where
// the winning copy of each sample is known, and the join leaves out the
// samples a deletion of the task covers (see delete.go).
const selectTaskMetrics = `SELECT name, argMax(kind_name, key), argMax(unit, key), count(), min(timestamp), max(timestamp)
FROM
(
    SELECT name, toString(kind) AS kind_name, unit, (timestamp, ingest_order, event_id) AS key, tenant, task_id, timestamp
    FROM metrics FINAL
    PREWHERE tenant = ?
    WHERE task_id = ?
)` + deletedAtJoin + `
WHERE timestamp > task_deleted_at
GROUP BY name
ORDER BY name
LIMIT ?`

// TaskMetrics lists the metrics whose samples carry taskID, by name.
func (s *Store) TaskMetrics(ctx context.Context, tenant, taskID string, limit int) ([]store.TaskMetric, error) {
	if tenant == "" || taskID == "" {
		return nil, errors.New("task metrics: tenant and task id are required")
	}
	if limit <= 0 {
		return nil, fmt.Errorf("task metrics: limit must be positive, got %d", limit)
	}
	rows, err := s.conn.Query(ctx, selectTaskMetrics, tenant, taskID, groupSet([]string{tenant}), limit)
	if err != nil {
		return nil, fmt.Errorf("task metrics of %s: %w", taskID, err)
	}
	defer rows.Close()
	var out []store.TaskMetric
	for rows.Next() {
		var (
			m       store.TaskMetric
			kind    string
			samples uint64
		)
		if err := rows.Scan(&m.Name, &kind, &m.Unit, &samples, &m.First, &m.Last); err != nil {
			return nil, fmt.Errorf("task metrics of %s: %w", taskID, err)
		}
		m.Kind, m.Samples = schema.MetricKind(kind), int64(samples)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("task metrics of %s: %w", taskID, err)
	}
	return out, nil
}
