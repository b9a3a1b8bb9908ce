package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// The current state of a task is computed when it is read, from the task's
// events as FINAL deduplicates them:
//
//   - The latest event is the one with the greatest order key (timestamp,
//     seq, ingest_order, event_id). event_id is unique within a task after
//     FINAL, so the key is a total order and the state does not depend on
//     the order events arrived in. 18.16 compares tuples in argMax, so the
//     key needs no encoding.
//   - The latest event's fields are taken as one tuple by one argMax. Taken
//     one by one, a Nullable field such as eta would skip the NULLs, since
//     aggregate functions ignore NULL arguments, and show an older value.
//   - Progress is that of the latest event that carried one (argMaxIf).
//
// A materialized view with argMaxState would make listing cheaper, but it
// would see every copy of a redelivered event before any merge, so min and
// argMax there could take a later copy's values; reading the deduplicated
// rows keeps the contract exact.
//
// The query has three levels because ClickHouse resolves an alias anywhere
// in its level: naming an aggregate user_id where the rows have a column
// user_id would make the aggregate refer to itself.
const stateSelect = `SELECT
    task_id,
    latest.1 AS user_id,
    latest.2 AS task_type,
    latest.3 AS task_name,
    latest.4 AS status,
    latest.5 AS current_step,
    latest.6 AS steps_done,
    latest.7 AS steps_total,
    latest.8 AS message,
    latest.9 AS eta,
    latest.10 AS error,
    latest.11 AS attr_keys,
    latest.12 AS attr_values,
    last_progress,
    progress_at,
    created_at,
    started_at,
    latest_key.1 AS updated_at,
    latest_key.2 AS latest_seq,
    latest_key.3 AS latest_ingest_order,
    latest_key.4 AS latest_event_id,
    events
FROM
(
    SELECT
        task_id,
        argMax((user_id, task_type, task_name, status, current_step, steps_done, steps_total, message, eta, error, attr_keys, attr_values), key) AS latest,
        max(key) AS latest_key,
        argMaxIf(assumeNotNull(progress), key, isNotNull(progress)) AS last_progress,
        argMaxIf(timestamp, key, isNotNull(progress)) AS progress_at,
        min(timestamp) AS created_at,
        minIf(timestamp, status = 'running') AS started_at,
        uniqExact(event_id) AS events
    FROM
    (
        SELECT task_id, event_id, timestamp, seq, ingest_order, user_id, task_type, task_name, status, progress,
            current_step, steps_done, steps_total, message, eta, error, attr_keys, attr_values,
            (timestamp, seq, ingest_order, event_id) AS key
        FROM progress_events FINAL
        WHERE tenant = ?%s
    )
    GROUP BY task_id
)`

// Task returns one task's current state, or store.ErrNotFound.
func (s *Store) Task(ctx context.Context, tenant, taskID string) (store.Task, error) {
	if tenant == "" {
		return store.Task{}, errors.New("read task: tenant is required")
	}
	query := fmt.Sprintf(stateSelect, " AND task_id = ?")
	tasks, err := s.queryTasks(ctx, tenant, query, tenant, taskID)
	if err != nil {
		return store.Task{}, fmt.Errorf("read task: %w", err)
	}
	if len(tasks) == 0 {
		return store.Task{}, store.ErrNotFound
	}
	return tasks[0], nil
}

// Tasks lists the tasks matching f, newest first by (UpdatedAt, TaskID).
// The filter is assembled from fixed fragments; every value is a query
// argument.
func (s *Store) Tasks(ctx context.Context, f store.TaskFilter) ([]store.Task, error) {
	if f.Tenant == "" {
		return nil, errors.New("list tasks: tenant is required")
	}
	if f.Limit <= 0 {
		return nil, errors.New("list tasks: limit must be positive")
	}
	inner := ""
	args := []any{f.Tenant}
	if len(f.TaskIDs) > 0 {
		// A task's state depends only on its own events, so this filter
		// may run before aggregation, where the sorting key serves it.
		inner = " AND task_id IN ?"
		args = append(args, groupSet(f.TaskIDs))
	}

	var where []string
	if len(f.Statuses) > 0 {
		statuses := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			statuses[i] = string(st)
		}
		where = append(where, "status IN ?")
		args = append(args, groupSet(statuses))
	}
	if f.UserID != "" {
		where = append(where, "user_id = ?")
		args = append(args, f.UserID)
	}
	if f.TaskType != "" {
		where = append(where, "task_type = ?")
		args = append(args, f.TaskType)
	}
	if f.UpdatedSince != 0 {
		where = append(where, "updated_at >= ?")
		args = append(args, f.UpdatedSince)
	}
	if f.UpdatedUntil != 0 {
		where = append(where, "updated_at < ?")
		args = append(args, f.UpdatedUntil)
	}
	if f.After != nil {
		where = append(where, "(updated_at, task_id) < (?, ?)")
		args = append(args, f.After.UpdatedAt, f.After.TaskID)
	}

	var q strings.Builder
	fmt.Fprintf(&q, stateSelect, inner)
	if len(where) > 0 {
		q.WriteString("\nWHERE " + strings.Join(where, " AND "))
	}
	q.WriteString("\nORDER BY updated_at DESC, task_id DESC\nLIMIT ?")
	args = append(args, f.Limit)

	tasks, err := s.queryTasks(ctx, f.Tenant, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return tasks, nil
}

func (s *Store) queryTasks(ctx context.Context, tenant, query string, args ...any) ([]store.Task, error) {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tasks []store.Task
	for rows.Next() {
		var (
			t            store.Task
			status       string
			keys, values []string
			startedAt    int64
			events       uint64
		)
		err := rows.Scan(
			&t.TaskID, &t.UserID, &t.TaskType, &t.TaskName, &status, &t.CurrentStep,
			&t.StepsDone, &t.StepsTotal, &t.Message, &t.ETA, &t.Error, &keys, &values,
			&t.Progress, &t.ProgressAt, &t.CreatedAt, &startedAt,
			&t.UpdatedAt, &t.Seq, &t.IngestOrder, &t.EventID, &events,
		)
		if err != nil {
			return nil, err
		}
		t.Tenant = tenant
		t.Status = schema.Status(status)
		t.Attributes = joinAttributes(keys, values)
		// minIf gives 0 when no event was "running"; stored timestamps
		// are never 0.
		if startedAt != 0 {
			t.StartedAt = &startedAt
		}
		t.Events = int64(events)
		tasks = append(tasks, t)
	}
	return tasks, rows.Err()
}

// groupSet renders a list as "(a, b, ...)" for IN. clickhouse-go renders a
// plain slice as an array literal, which 18.16 refuses on the right of IN.
func groupSet(values []string) clickhouse.GroupSet {
	set := make([]any, len(values))
	for i, v := range values {
		set[i] = v
	}
	return clickhouse.GroupSet{Value: set}
}
