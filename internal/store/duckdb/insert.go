package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/taskpulse/taskpulse/schema"
)

// The column lists fix the order in which rows are appended to the tables
// and to the staging tables, which copy their types from the real tables.
const (
	eventColumns = `tenant, event_id, timestamp, seq, ingest_order, task_id, user_id, task_type, task_name,
    status, progress, current_step, steps_done, steps_total, message, eta, error, attr_keys, attr_values`
	taskColumns = `tenant, task_id, user_id, task_type, task_name, status, current_step, steps_done, steps_total,
    message, eta, error, attributes, progress, progress_at, progress_seq, progress_ingest_order,
    progress_event_id, created_at, started_at, updated_at, seq, ingest_order, event_id, events`
)

var (
	eventColumnNames = columnNames(eventColumns)
	taskColumnNames  = columnNames(taskColumns)
)

// The staging tables are replaced in every batch rather than emptied, so
// that no deleted rows pile up in them over the life of the process.
const (
	createStagingEvents = `CREATE OR REPLACE TEMP TABLE staging_events AS
SELECT ` + eventColumns + ` FROM progress_events LIMIT 0`
	createStagingTasks = `CREATE OR REPLACE TEMP TABLE staging_tasks AS
SELECT ` + taskColumns + ` FROM tasks LIMIT 0`

	// insertNewEvents returns the keys of the rows it really inserted, so
	// that only those are folded into the tasks.
	insertNewEvents = `INSERT OR IGNORE INTO progress_events (` + eventColumns + `)
SELECT ` + eventColumns + ` FROM staging_events
RETURNING tenant, event_id`
)

// mergeTasks merges each task's delta into its stored state. Every SET
// expression reads the row as it was before the update, so the order-key
// comparisons all see the old key.
const (
	deltaIsLater = `(excluded.updated_at, excluded.seq, excluded.ingest_order, excluded.event_id)
    > (tasks.updated_at, tasks.seq, tasks.ingest_order, tasks.event_id)`
	deltaProgressIsLater = `excluded.progress_event_id IS NOT NULL AND (tasks.progress_event_id IS NULL OR
    (excluded.progress_at, excluded.progress_seq, excluded.progress_ingest_order, excluded.progress_event_id)
    > (tasks.progress_at, tasks.progress_seq, tasks.progress_ingest_order, tasks.progress_event_id))`

	mergeTasks = `INSERT INTO tasks (` + taskColumns + `)
SELECT ` + taskColumns + ` FROM staging_tasks
ON CONFLICT (tenant, task_id) DO UPDATE SET
    user_id               = CASE WHEN ` + deltaIsLater + ` THEN excluded.user_id ELSE tasks.user_id END,
    task_type             = CASE WHEN ` + deltaIsLater + ` THEN excluded.task_type ELSE tasks.task_type END,
    task_name             = CASE WHEN ` + deltaIsLater + ` THEN excluded.task_name ELSE tasks.task_name END,
    status                = CASE WHEN ` + deltaIsLater + ` THEN excluded.status ELSE tasks.status END,
    current_step          = CASE WHEN ` + deltaIsLater + ` THEN excluded.current_step ELSE tasks.current_step END,
    steps_done            = CASE WHEN ` + deltaIsLater + ` THEN excluded.steps_done ELSE tasks.steps_done END,
    steps_total           = CASE WHEN ` + deltaIsLater + ` THEN excluded.steps_total ELSE tasks.steps_total END,
    message               = CASE WHEN ` + deltaIsLater + ` THEN excluded.message ELSE tasks.message END,
    eta                   = CASE WHEN ` + deltaIsLater + ` THEN excluded.eta ELSE tasks.eta END,
    error                 = CASE WHEN ` + deltaIsLater + ` THEN excluded.error ELSE tasks.error END,
    attributes            = CASE WHEN ` + deltaIsLater + ` THEN excluded.attributes ELSE tasks.attributes END,
    updated_at            = CASE WHEN ` + deltaIsLater + ` THEN excluded.updated_at ELSE tasks.updated_at END,
    seq                   = CASE WHEN ` + deltaIsLater + ` THEN excluded.seq ELSE tasks.seq END,
    ingest_order          = CASE WHEN ` + deltaIsLater + ` THEN excluded.ingest_order ELSE tasks.ingest_order END,
    event_id              = CASE WHEN ` + deltaIsLater + ` THEN excluded.event_id ELSE tasks.event_id END,
    progress              = CASE WHEN ` + deltaProgressIsLater + ` THEN excluded.progress ELSE tasks.progress END,
    progress_at           = CASE WHEN ` + deltaProgressIsLater + ` THEN excluded.progress_at ELSE tasks.progress_at END,
    progress_seq          = CASE WHEN ` + deltaProgressIsLater + ` THEN excluded.progress_seq ELSE tasks.progress_seq END,
    progress_ingest_order = CASE WHEN ` + deltaProgressIsLater + ` THEN excluded.progress_ingest_order ELSE tasks.progress_ingest_order END,
    progress_event_id     = CASE WHEN ` + deltaProgressIsLater + ` THEN excluded.progress_event_id ELSE tasks.progress_event_id END,
    created_at            = least(tasks.created_at, excluded.created_at),
    started_at            = least(tasks.started_at, excluded.started_at),
    events                = tasks.events + excluded.events`
)

// eventKey identifies a stored event.
type eventKey struct{ tenant, eventID string }

// InsertProgress stores events in one transaction. Events already stored,
// and repeats within the batch, are skipped: the first copy of an event id
// is the one kept. Tombstones delete their tasks, and events a deletion
// covers are dropped (see delete.go).
func (s *Store) InsertProgress(ctx context.Context, events []schema.Progress) error {
	batch, err := distinctEvents(events)
	if err != nil {
		return fmt.Errorf("insert progress batch: %w", err)
	}
	if len(batch) == 0 {
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	added, live, err := s.splitTombstones(ctx, batch)
	if err != nil {
		return fmt.Errorf("insert progress batch: %w", err)
	}
	if err := s.insert(ctx, live, added); err != nil {
		return fmt.Errorf("insert progress batch: %w", err)
	}
	return nil
}

// distinctEvents checks the fields every stored event needs and drops
// repeated event ids, which INSERT OR IGNORE would drop anyway but which
// must not be folded into a task twice.
func distinctEvents(events []schema.Progress) ([]*schema.Progress, error) {
	seen := make(map[eventKey]struct{}, len(events))
	batch := make([]*schema.Progress, 0, len(events))
	for i := range events {
		e := &events[i]
		if e.Tenant == "" || e.EventID == "" || e.TaskID == "" || e.Timestamp == 0 || e.Status == "" {
			return nil, fmt.Errorf("event %d: tenant, event_id, task_id, timestamp and status are required", i)
		}
		k := eventKey{e.Tenant, e.EventID}
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		batch = append(batch, e)
	}
	return batch, nil
}

// insert applies the deletions added, then stores batch, in one
// transaction.
func (s *Store) insert(ctx context.Context, batch []*schema.Progress, added deletions) error {
	if len(batch) == 0 {
		return s.inTx(ctx, func(tx *sql.Tx) error { return s.applyDeletions(ctx, tx, added) })
	}
	fill := func(row []driver.Value, i int) []driver.Value { return eventRow(row, batch[i]) }
	return s.writeBatch(ctx, func(tx *sql.Tx) error {
		if err := s.applyDeletions(ctx, tx, added); err != nil {
			return err
		}
		if err := s.appendRows(ctx, "progress_events", eventColumnNames, len(batch), fill); err != nil {
			return fmt.Errorf("append events: %w", err)
		}
		return s.mergeTasks(ctx, tx, foldEvents(batch))
	}, func(tx *sql.Tx) error {
		if err := s.applyDeletions(ctx, tx, added); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, createStagingEvents); err != nil {
			return fmt.Errorf("create staging_events: %w", err)
		}
		if err := s.appendRows(ctx, "temp.staging_events", eventColumnNames, len(batch), fill); err != nil {
			return fmt.Errorf("stage events: %w", err)
		}
		fresh, err := insertNew(ctx, tx, batch)
		if err != nil || len(fresh) == 0 {
			return err
		}
		return s.mergeTasks(ctx, tx, foldEvents(fresh))
	})
}

// writeBatch stores a batch in one transaction, first on the premise that
// none of its rows is stored yet, which holds for all but redelivered
// batches and retried requests: fresh appends the rows straight into their
// table, whose primary key then refuses the whole batch if any row was
// stored before. Only then is the batch rolled back and written again by
// again, which skips the stored rows. Appending skips the staging table and
// INSERT OR IGNORE, which cost as much again as the append itself. The
// appender's errors come as text without DuckDB's error type, so any
// failure of fresh takes the exact path, which reports a failure of its
// own.
func (s *Store) writeBatch(ctx context.Context, fresh, again func(tx *sql.Tx) error) error {
	if err := s.inTx(ctx, fresh); err == nil || ctx.Err() != nil {
		return err
	}
	return s.inTx(ctx, again)
}

// inTx runs f in a transaction on the writer connection and commits it.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// insertNew copies the staged events into progress_events and returns the
// ones that were not stored before.
func insertNew(ctx context.Context, tx *sql.Tx, batch []*schema.Progress) ([]*schema.Progress, error) {
	rows, err := tx.QueryContext(ctx, insertNewEvents)
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	defer rows.Close()
	inserted := make(map[eventKey]struct{}, len(batch))
	for rows.Next() {
		var k eventKey
		if err := rows.Scan(&k.tenant, &k.eventID); err != nil {
			return nil, fmt.Errorf("insert events: %w", err)
		}
		inserted[k] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	if len(inserted) == len(batch) {
		return batch, nil
	}
	fresh := make([]*schema.Progress, 0, len(inserted))
	for _, e := range batch {
		if _, ok := inserted[eventKey{e.Tenant, e.EventID}]; ok {
			fresh = append(fresh, e)
		}
	}
	return fresh, nil
}

func (s *Store) mergeTasks(ctx context.Context, tx *sql.Tx, deltas map[taskKey]*taskDelta) error {
	if _, err := tx.ExecContext(ctx, createStagingTasks); err != nil {
		return fmt.Errorf("create staging_tasks: %w", err)
	}
	list := make([]*taskDelta, 0, len(deltas))
	for _, d := range deltas {
		list = append(list, d)
	}
	if err := s.appendRows(ctx, "temp.staging_tasks", taskColumnNames, len(list), func(row []driver.Value, i int) []driver.Value {
		return taskRow(row, list[i])
	}); err != nil {
		return fmt.Errorf("stage tasks: %w", err)
	}
	if _, err := tx.ExecContext(ctx, mergeTasks); err != nil {
		return fmt.Errorf("merge tasks: %w", err)
	}
	return nil
}

// appendRows loads n rows into table ("name" or "catalog.name") with
// DuckDB's appender, on the writer connection and so inside its open
// transaction, filling columns in their order. fill appends row i's
// values to the slice it is given, which is reused.
func (s *Store) appendRows(ctx context.Context, table string, columns []string, n int, fill func(row []driver.Value, i int) []driver.Value) error {
	catalog, name, ok := strings.Cut(table, ".")
	if !ok {
		catalog, name = "", table
	}
	return s.writer.Raw(func(dc any) error {
		a, err := duckdb.NewAppenderWithColumns(dc.(driver.Conn), catalog, "main", name, columns)
		if err != nil {
			return err
		}
		var row []driver.Value
		for i := range n {
			row = fill(row[:0], i)
			if err := a.AppendRow(row...); err != nil {
				return errors.Join(err, a.Close())
			}
		}
		return a.CloseWithCancel(ctx)
	})
}

// columnNames splits a column list such as eventColumns into its names,
// for an appender that fills the columns of a table in that order.
func columnNames(list string) []string {
	names := strings.Split(list, ",")
	for i, n := range names {
		names[i] = strings.TrimSpace(n)
	}
	return names
}
