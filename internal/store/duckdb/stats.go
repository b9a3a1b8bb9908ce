package duckdb

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// The statistics read the tasks table, which holds every task's current
// state, and the logs. Every query takes $1 tenant, $2 from, $3 to and
// $4 step; a bucket is named by its start, from + k*step.
const (
	selectByStatus = `SELECT status, count(*) FROM tasks
WHERE tenant = $1 AND updated_at >= $2 AND updated_at < $3
GROUP BY status`

	// A task counts as started in the bucket of its first event, and as
	// completed or failed in the bucket of its latest event when that left
	// it completed or failed.
	selectIntervals = `SELECT t, sum(started), sum(completed), sum(failed) FROM (
    SELECT created_at - (created_at - $2) % $4 AS t, 1 AS started, 0 AS completed, 0 AS failed
    FROM tasks WHERE tenant = $1 AND created_at >= $2 AND created_at < $3
    UNION ALL
    SELECT updated_at - (updated_at - $2) % $4, 0, (status = 'completed')::INTEGER, (status = 'failed')::INTEGER
    FROM tasks WHERE tenant = $1 AND status IN ('completed', 'failed') AND updated_at >= $2 AND updated_at < $3
) GROUP BY t ORDER BY t`

	// A task's duration runs from its first running event, or its first
	// event if it never ran, to its latest.
	selectTypeStats = `SELECT task_type, count(*) AS finished, count(*) FILTER (WHERE status = 'failed') AS failed,
    quantile_cont(updated_at - coalesce(started_at, created_at), 0.50),
    quantile_cont(updated_at - coalesce(started_at, created_at), 0.90),
    quantile_cont(updated_at - coalesce(started_at, created_at), 0.99)
FROM tasks
WHERE tenant = $1 AND status IN ('completed', 'failed', 'cancelled') AND updated_at >= $2 AND updated_at < $3
GROUP BY task_type ORDER BY failed DESC, task_type`

	selectErrorLogs = `SELECT timestamp - (timestamp - $2) % $4 AS t, count(*) FROM logs
WHERE tenant = $1 AND level_rank >= $5 AND timestamp >= $2 AND timestamp < $3
GROUP BY t ORDER BY t`
)

// Stats computes a tenant's task statistics over [q.From, q.To).
func (s *Store) Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error) {
	st := store.Stats{ByStatus: map[schema.Status]int64{}, Intervals: []store.IntervalCounts{}, Types: []store.TypeStats{}, ErrorLogs: []store.Point{}}
	if q.Step <= 0 || q.To <= q.From {
		return st, fmt.Errorf("task stats: need step > 0 and to > from, got step %d over [%d, %d)", q.Step, q.From, q.To)
	}
	args := []any{q.Tenant, q.From, q.To, q.Step}
	steps := []struct {
		what  string
		query string
		args  []any
		scan  func(*sql.Rows) error
	}{
		{"by status", selectByStatus, args[:3], func(r *sql.Rows) error {
			var status string
			var n int64
			err := r.Scan(&status, &n)
			st.ByStatus[schema.Status(status)] = n
			return err
		}},
		{"intervals", selectIntervals, args, func(r *sql.Rows) error {
			var c store.IntervalCounts
			err := r.Scan(&c.T, &c.Started, &c.Completed, &c.Failed)
			st.Intervals = append(st.Intervals, c)
			return err
		}},
		{"types", selectTypeStats, args[:3], func(r *sql.Rows) error {
			var ts store.TypeStats
			err := r.Scan(&ts.TaskType, &ts.Finished, &ts.Failed, &ts.DurationP50Ms, &ts.DurationP90Ms, &ts.DurationP99Ms)
			ts.FailureRate = float64(ts.Failed) / float64(ts.Finished)
			st.Types = append(st.Types, ts)
			return err
		}},
		{"error logs", selectErrorLogs, append(args, schema.LevelError.Rank()), func(r *sql.Rows) error {
			var p store.Point
			var n int64
			err := r.Scan(&p.T, &n)
			p.V = float64(n)
			st.ErrorLogs = append(st.ErrorLogs, p)
			return err
		}},
	}
	for _, step := range steps {
		if err := s.scanAll(ctx, step.query, step.args, step.scan); err != nil {
			return st, fmt.Errorf("task stats: %s: %w", step.what, err)
		}
	}
	return st, nil
}

// scanAll runs query and hands every row to scan.
func (s *Store) scanAll(ctx context.Context, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
