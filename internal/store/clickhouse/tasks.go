package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// The current state of a task is computed when it is read, from the task's
// events in task_events (schema/clickhouse/0017_task_events.sql), a copy of
// progress_events in granules of 256 rows, as FINAL deduplicates them:
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
// Task reads one task's rows through the primary key, so this costs what
// the task's own events cost. A listing narrows to a page first with the
// per-task updates and then computes the state of that page the same way
// (see Tasks).
//
// The tenant and task filters are a PREWHERE: they name only sorting key
// columns, which every copy of an event shares, so they may run before FINAL
// collapses the copies, and FINAL then merges just the task's rows instead
// of every row of the granules they share with other tasks (FINAL on 18.16
// merges in one thread). Those granules are what the small ones are for:
// at the 8192 rows of progress_events, a page of 100 tasks reads some
// 800,000 rows of every column for its 1,200 events and takes 18.16 about
// 100 ms; at 256, some 25,000 rows. Any filter on other columns
// must stay after FINAL, or it could drop the copy that wins and keep one
// that does not.
//
// A deleted task's events up to its deletion, the tombstone included, are
// left out (deletedKeyJoin, see delete.go) until the mutation that removes
// them is done, so the task is gone, or starts again from the events after
// it.
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
        SELECT task_id, event_id, timestamp, status, progress, user_id, task_type, task_name,
            current_step, steps_done, steps_total, message, eta, error, attr_keys, attr_values, key
        FROM
        (
            SELECT task_id, event_id, timestamp, seq, ingest_order, user_id, task_type, task_name, status, progress,
                current_step, steps_done, steps_total, message, eta, error, attr_keys, attr_values,
                (timestamp, seq, ingest_order, event_id) AS key
            FROM task_events FINAL
            PREWHERE tenant = ?%s
        )` + deletedKeyJoin + `
        WHERE key > task_deleted_key
    )
    GROUP BY task_id
)`

// Task returns one task's current state, or store.ErrNotFound.
func (s *Store) Task(ctx context.Context, tenant, taskID string) (store.Task, error) {
	if tenant == "" {
		return store.Task{}, errors.New("read task: tenant is required")
	}
	query := fmt.Sprintf(stateSelect, " AND task_id = ?")
	tasks, err := s.queryTasks(ctx, tenant, query, tenant, taskID, tenant)
	if err != nil {
		return store.Task{}, fmt.Errorf("read task: %w", err)
	}
	if len(tasks) == 0 {
		return store.Task{}, store.ErrNotFound
	}
	return tasks[0], nil
}

// Listing a page of tasks takes two steps, because computing the state of
// every task of a tenant from its events costs a full aggregation of the
// tenant's events for each page (about a second at a million events).
//
//  1. selectCandidates reads task_updates (schema/clickhouse/0013), rows
//     sorted by each task's latest update, and returns the next page of
//     task ids by their (updated, task_id). It reads only the rows updated
//     in a window ending now (or at the cursor), which is exact for every
//     task updated within it, and widens the window only while the page is
//     not full (see taskCandidates). A status, user or type filter keeps
//     the rows that match it and hold their task's latest update
//     (latestMatches).
//  2. The full state of those tasks only is computed from their deduplicated
//     events (stateSelect with task_id IN), where the primary key
//     (tenant, task_id, ...) reads just their rows; the event count comes
//     from there too. The filters and the cursor are applied again to the
//     exact state, so a page never shows a task in a state it is not in.
//
// The rows equal the exact state for every task whose stored copies of
// each event agree on the order key, status, user and type: that holds for
// redelivered batches and retried requests, which carry the same event, and
// whatever order events arrive in. A copy of a stored event that differs in
// those fields (a client reusing an event_id for other content) still feeds
// the rows, though the events table ignores it; such a task may then be
// left out of a filtered page whose fields it no longer matches.
// Finding those copies at insert time would cost a lookup per batch that
// 18.16 makes slower than the insert itself (it parses every key literal).
//
// Step 2 can return fewer tasks than step 1 named: a task whose rows no
// longer match its exact state, or whose events retention has removed. So
// Tasks continues after the last candidate until the page is full or there
// are no more candidates; it does the same for a page larger than
// maxCandidates.
//
// Arguments: tenant, the window's start, the task ids when filtered, the
// latest filter's when filtered, the time filters', limit.
const selectCandidates = `SELECT task_id, updated_at
FROM
(
    SELECT task_id, max(updated) AS updated_at
    FROM task_updates
    WHERE tenant = ? AND updated >= ?%s%s
    GROUP BY task_id
)%s
ORDER BY updated_at DESC, task_id DESC
LIMIT ?`

// maxCandidates bounds the task ids step 2 names in its query text, which
// the server refuses beyond max_query_size (256 KiB by default); a larger
// page is read in several rounds.
const maxCandidates = 500

// latestMatches follows a status, user or type filter on the rows of
// selectCandidates: it keeps the rows that hold their task's latest update
// in the window, whose fields are those of the task's latest event. Two
// rows of a task that share that update both pass, so a task may be named
// that step 2 then leaves out, never the other way. The latest updates are
// taken only of the tasks with a matching row in the window: grouping
// every task of a wide window costs 18.16 some 300 ms at 190,000 tasks,
// while a rare status such as running leaves a few hundred to group.
// Arguments: tenant, the window's start, tenant, the window's start, the
// task ids when filtered, the filter's.
const latestMatches = ` AND (task_id, updated) IN (SELECT task_id, max(updated) FROM task_updates
        WHERE tenant = ? AND updated >= ? AND task_id IN (SELECT task_id FROM task_updates WHERE tenant = ? AND updated >= ?%s%s)
        GROUP BY task_id)`

// The first window of a listing spans the last hour before now or the
// cursor, which holds a page of the newest tasks on a busy tenant. A window
// that leaves the page short grows by as many times as it fell short, and
// by growthUnknown when it found nothing to go by; past maxWindow it takes
// in everything, so a listing asks at most a handful of times.
const (
	firstWindow   = int64(time.Hour / time.Millisecond)
	growthUnknown = 16
	maxWindow     = int64(2 * 366 * 24 * time.Hour / time.Millisecond)
)

// Tasks lists the tasks matching f, newest first by (UpdatedAt, TaskID).
// The filters are assembled from fixed fragments; every value is a query
// argument.
func (s *Store) Tasks(ctx context.Context, f store.TaskFilter) ([]store.Task, error) {
	if f.Tenant == "" {
		return nil, errors.New("list tasks: tenant is required")
	}
	if f.Limit <= 0 {
		return nil, errors.New("list tasks: limit must be positive")
	}
	var tasks []store.Task
	after := f.After
	for len(tasks) < f.Limit {
		want := min(f.Limit-len(tasks), maxCandidates)
		ids, last, err := s.taskCandidates(ctx, f, after, want)
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		page, err := s.exactTasks(ctx, f, after, ids)
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		tasks = append(tasks, page...)
		if len(ids) < want {
			break
		}
		after = &last
	}
	return tasks, nil
}

// taskCandidates runs step 1: the ids of the next limit tasks after the
// cursor by task_updates, and the position of the last of them. It reads
// a window of updates ending at the newest position the page may hold and
// widens it until the page is full or the window covers every update the
// filter allows. Rows after the window's end are read too, since they may
// hold a later update of a task that would otherwise seem to end inside.
func (s *Store) taskCandidates(ctx context.Context, f store.TaskFilter, after *store.TaskCursor, limit int) ([]string, store.TaskCursor, error) {
	end := time.Now().UnixMilli()
	if f.UpdatedUntil != 0 {
		end = min(end, f.UpdatedUntil)
	}
	if after != nil {
		end = min(end, after.UpdatedAt)
	}
	for window := firstWindow; ; {
		start, whole := end-window, window >= maxWindow
		if whole {
			start = math.MinInt64
		}
		if f.UpdatedSince != 0 && start <= f.UpdatedSince {
			start, whole = f.UpdatedSince, true
		}
		ids, last, err := s.windowCandidates(ctx, f, after, start, limit)
		if err != nil || len(ids) == limit || whole {
			return ids, last, err
		}
		if len(ids) == 0 {
			window *= growthUnknown
		} else {
			window *= int64(max(4, 2*limit/len(ids)))
		}
	}
}

// windowCandidates runs selectCandidates over the updates at or after start.
func (s *Store) windowCandidates(ctx context.Context, f store.TaskFilter, after *store.TaskCursor, start int64, limit int) ([]string, store.TaskCursor, error) {
	named, idArgs := "", []any{}
	if len(f.TaskIDs) > 0 {
		named, idArgs = " AND task_id IN ?", []any{groupSet(f.TaskIDs)}
	}
	match, matchArgs := "", []any{}
	if len(f.Statuses) > 0 {
		match += " AND status IN ?"
		matchArgs = append(matchArgs, groupSet(statusNames(f.Statuses)))
	}
	if f.UserID != "" {
		match += " AND user_id = ?"
		matchArgs = append(matchArgs, f.UserID)
	}
	if f.TaskType != "" {
		match += " AND task_type = ?"
		matchArgs = append(matchArgs, f.TaskType)
	}
	args := append(append([]any{f.Tenant, start}, idArgs...), matchArgs...)
	latest := ""
	if match != "" {
		latest = match + fmt.Sprintf(latestMatches, named, match)
		args = append(append(append(args, f.Tenant, start, f.Tenant, start), idArgs...), matchArgs...)
	}
	var where []string
	where, args = appendTimeFilters(where, args, f, after)
	args = append(args, limit)

	query := fmt.Sprintf(selectCandidates, named, latest, whereClause(where))
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, store.TaskCursor{}, err
	}
	defer rows.Close()
	var (
		ids  []string
		last store.TaskCursor
	)
	for rows.Next() {
		if err := rows.Scan(&last.TaskID, &last.UpdatedAt); err != nil {
			return nil, store.TaskCursor{}, err
		}
		ids = append(ids, last.TaskID)
	}
	return ids, last, rows.Err()
}

// exactTasks runs step 2: the state of the tasks ids names, computed from
// their events, that match f after the cursor, in listing order.
func (s *Store) exactTasks(ctx context.Context, f store.TaskFilter, after *store.TaskCursor, ids []string) ([]store.Task, error) {
	args := []any{f.Tenant, groupSet(ids), f.Tenant}
	// A deleted task's latest event has status deleted; listings leave it
	// out. The status is compared as text, which holds whether or not the
	// server's enum names deleted yet.
	where := []string{"toString(status) != 'deleted'"}
	if len(f.Statuses) > 0 {
		where = append(where, "status IN ?")
		args = append(args, groupSet(statusNames(f.Statuses)))
	}
	if f.UserID != "" {
		where = append(where, "user_id = ?")
		args = append(args, f.UserID)
	}
	if f.TaskType != "" {
		where = append(where, "task_type = ?")
		args = append(args, f.TaskType)
	}
	where, args = appendTimeFilters(where, args, f, after)

	query := fmt.Sprintf(stateSelect, " AND task_id IN ?") + whereClause(where) + "\nORDER BY updated_at DESC, task_id DESC"
	return s.queryTasks(ctx, f.Tenant, query, args...)
}

// appendTimeFilters adds the update-time range and the cursor, which both
// steps name updated_at.
func appendTimeFilters(where []string, args []any, f store.TaskFilter, after *store.TaskCursor) ([]string, []any) {
	if f.UpdatedSince != 0 {
		where = append(where, "updated_at >= ?")
		args = append(args, f.UpdatedSince)
	}
	if f.UpdatedUntil != 0 {
		where = append(where, "updated_at < ?")
		args = append(args, f.UpdatedUntil)
	}
	if after != nil {
		where = append(where, "(updated_at, task_id) < (?, ?)")
		args = append(args, after.UpdatedAt, after.TaskID)
	}
	return where, args
}

func whereClause(where []string) string {
	if len(where) == 0 {
		return ""
	}
	return "\nWHERE " + strings.Join(where, " AND ")
}

func statusNames(statuses []schema.Status) []string {
	names := make([]string, len(statuses))
	for i, st := range statuses {
		names[i] = string(st)
	}
	return names
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
