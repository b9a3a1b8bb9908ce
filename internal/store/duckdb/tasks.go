package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/taskpulse/taskpulse/internal/store"
)

// taskReadColumns are the tasks columns a store.Task is made of, in the
// order scanTask reads them.
const taskReadColumns = `tenant, task_id, user_id, task_type, task_name, status, current_step, steps_done,
    steps_total, message, eta, error, attributes, progress, progress_at, created_at, started_at,
    updated_at, seq, ingest_order, event_id, events`

const selectTask = `SELECT ` + taskReadColumns + ` FROM tasks WHERE tenant = ? AND task_id = ?`

// A task listing is selectTasks, then one condition per filter in use,
// then orderTasks. Each piece takes its values as parameters.
const (
	selectTasks           = `SELECT ` + taskReadColumns + ` FROM tasks WHERE tenant = ?`
	whereStatusIn         = ` AND list_contains(?::VARCHAR[], status)`
	whereTaskIDIn         = ` AND list_contains(?::VARCHAR[], task_id)`
	whereUserID           = ` AND user_id = ?`
	whereTaskType         = ` AND task_type = ?`
	whereUpdatedSince     = ` AND updated_at >= ?`
	whereUpdatedUntil     = ` AND updated_at < ?`
	whereBeforeCursor     = ` AND (updated_at, task_id) < (?, ?)`
	orderTasksNewestFirst = ` ORDER BY updated_at DESC, task_id DESC LIMIT ?`
)

// Task returns the current state of one task, or store.ErrNotFound.
func (s *Store) Task(ctx context.Context, tenant, taskID string) (store.Task, error) {
	t, err := scanTask(s.queryRow(ctx, selectTask, tenant, taskID))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("get task %s: %w", taskID, store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("get task %s: %w", taskID, err)
	}
	return t, nil
}

// Tasks lists the tasks matching f, newest first by (UpdatedAt, TaskID).
func (s *Store) Tasks(ctx context.Context, f store.TaskFilter) ([]store.Task, error) {
	if f.Limit <= 0 {
		return nil, fmt.Errorf("list tasks: limit must be positive, got %d", f.Limit)
	}
	query, args := tasksQuery(f)
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	defer rows.Close()
	tasks := make([]store.Task, 0, min(f.Limit, 1024))
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		tasks = append(tasks, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return tasks, nil
}

func tasksQuery(f store.TaskFilter) (string, []any) {
	var q strings.Builder
	q.WriteString(selectTasks)
	args := []any{f.Tenant}
	if len(f.Statuses) > 0 {
		statuses := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			statuses[i] = string(st)
		}
		q.WriteString(whereStatusIn)
		args = append(args, statuses)
	}
	if len(f.TaskIDs) > 0 {
		q.WriteString(whereTaskIDIn)
		args = append(args, f.TaskIDs)
	}
	if f.UserID != "" {
		q.WriteString(whereUserID)
		args = append(args, f.UserID)
	}
	if f.TaskType != "" {
		q.WriteString(whereTaskType)
		args = append(args, f.TaskType)
	}
	if f.UpdatedSince != 0 {
		q.WriteString(whereUpdatedSince)
		args = append(args, f.UpdatedSince)
	}
	if f.UpdatedUntil != 0 {
		q.WriteString(whereUpdatedUntil)
		args = append(args, f.UpdatedUntil)
	}
	if f.After != nil {
		q.WriteString(whereBeforeCursor)
		args = append(args, f.After.UpdatedAt, f.After.TaskID)
	}
	q.WriteString(orderTasksNewestFirst)
	args = append(args, f.Limit)
	return q.String(), args
}
