package duckdb

import (
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// eventRow appends e's values in the order of eventColumns.
func eventRow(row []driver.Value, e *schema.Progress) []driver.Value {
	keys, values := attrLists(e.Attributes)
	return append(row,
		e.Tenant, e.EventID, e.Timestamp, e.Seq, e.IngestOrder, e.TaskID, e.UserID, e.TaskType, e.TaskName,
		string(e.Status), nullable(e.Progress), e.CurrentStep, e.StepsDone, e.StepsTotal, e.Message,
		nullable(e.ETA), e.Error, keys, values)
}

// taskRow appends d's values in the order of taskColumns.
func taskRow(row []driver.Value, d *taskDelta) []driver.Value {
	e := d.latest
	row = append(row,
		e.Tenant, e.TaskID, e.UserID, e.TaskType, e.TaskName, string(e.Status), e.CurrentStep,
		e.StepsDone, e.StepsTotal, e.Message, nullable(e.ETA), e.Error, attrJSON(e.Attributes))
	if p := d.withProgress; p != nil {
		row = append(row, *p.Progress, p.Timestamp, p.Seq, p.IngestOrder, p.EventID)
	} else {
		row = append(row, nil, nil, nil, nil, nil)
	}
	return append(row, d.createdAt, nullable(d.startedAt), e.Timestamp, e.Seq, e.IngestOrder, e.EventID, d.events)
}

// nullable turns a nil pointer into SQL NULL and any other into its value.
func nullable[T any](p *T) driver.Value {
	if p == nil {
		return nil
	}
	return *p
}

// scanEvent reads a row selected with eventColumns.
func scanEvent(rows *sql.Rows) (schema.Progress, error) {
	var (
		e            schema.Progress
		status       string
		progress     sql.NullFloat64
		eta          sql.NullInt64
		keys, values []any
	)
	err := rows.Scan(&e.Tenant, &e.EventID, &e.Timestamp, &e.Seq, &e.IngestOrder, &e.TaskID, &e.UserID,
		&e.TaskType, &e.TaskName, &status, &progress, &e.CurrentStep, &e.StepsDone, &e.StepsTotal,
		&e.Message, &eta, &e.Error, &keys, &values)
	if err != nil {
		return e, fmt.Errorf("scan event: %w", err)
	}
	e.Status = schema.Status(status)
	if progress.Valid {
		e.Progress = &progress.Float64
	}
	if eta.Valid {
		e.ETA = &eta.Int64
	}
	if e.Attributes, err = attrMap(keys, values); err != nil {
		return e, fmt.Errorf("scan event %s: %w", e.EventID, err)
	}
	return e, nil
}

// scanner is the one method *sql.Row and *sql.Rows share.
type scanner interface{ Scan(dest ...any) error }

// scanTask reads a row selected with taskReadColumns.
func scanTask(r scanner) (store.Task, error) {
	var (
		t          store.Task
		status     string
		eta        sql.NullInt64
		attrs      string
		progress   sql.NullFloat64
		progressAt sql.NullInt64
		startedAt  sql.NullInt64
	)
	err := r.Scan(&t.Tenant, &t.TaskID, &t.UserID, &t.TaskType, &t.TaskName, &status, &t.CurrentStep,
		&t.StepsDone, &t.StepsTotal, &t.Message, &eta, &t.Error, &attrs, &progress, &progressAt,
		&t.CreatedAt, &startedAt, &t.UpdatedAt, &t.Seq, &t.IngestOrder, &t.EventID, &t.Events)
	if err != nil {
		return t, err
	}
	t.Status = schema.Status(status)
	if eta.Valid {
		t.ETA = &eta.Int64
	}
	t.Progress = progress.Float64
	t.ProgressAt = progressAt.Int64
	if startedAt.Valid {
		t.StartedAt = &startedAt.Int64
	}
	if t.Attributes, err = parseAttrJSON(attrs); err != nil {
		return t, fmt.Errorf("task %s: %w", t.TaskID, err)
	}
	return t, nil
}
