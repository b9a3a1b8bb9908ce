package store

import (
	"context"

	"github.com/taskpulse/taskpulse/schema"
)

// Store is the whole contract of a store, and what every implementation's
// constructor returns: tasks, logs, metrics, statistics, dashboards and
// documents, and the store's own health and lifetime. Every implementation
// keeps every part, so no caller asks a store which parts it has; callers
// still declare the few methods they use as small interfaces of their own.
type Store interface {
	TaskStore
	LogStore
	MetricStore
	StatsStore
	DashboardStore
	DocumentStore

	// Ping reports whether the store can serve.
	Ping(ctx context.Context) error
	// Close releases the store; nothing may be called after it.
	Close() error
}

// TaskStore keeps progress events and answers for the tasks they make.
//
//   - Idempotency: inserting an event whose (tenant, event_id) is already
//     stored changes nothing any query returns, so a redelivered batch or a
//     retried request never counts twice.
//   - Order independence: the current state of a task is the same whatever
//     order its events were inserted in.
//   - Isolation: every read names its tenant and returns only its rows.
//   - Visibility: once InsertProgress returns nil, every read sees the
//     events.
//   - Deletion: an event with status schema.StatusDeleted is the task's
//     tombstone, and is not stored as an event. It deletes what came
//     before it: the task's events whose order key (timestamp, seq,
//     ingest_order, event_id; see schema.Order) is at or before the
//     tombstone's, and the logs and metric samples with its task_id whose
//     timestamp is at or before the tombstone's millisecond (they have no
//     seq, so a tie counts as before). Once InsertProgress returns nil, no
//     read returns any of them: Task answers ErrNotFound, listings, the
//     timeline, log searches, metric series (raw and rollup alike),
//     statistics and exports leave them out, as if they had never been
//     stored, however long the store takes to remove them physically. What
//     a deletion covers is dropped by every later insert too, so an older
//     event arriving late cannot bring the task back, while an event after
//     the tombstone starts the task again, made of the events after it
//     only. A task's deletion is its latest tombstone; an earlier or
//     redelivered one changes nothing, and inserting the tombstone before
//     or after the events it covers gives the same state.
type TaskStore interface {
	// InsertProgress stores events, all or none, and applies the
	// tombstones among them (see Deletion above). Every event has its
	// tenant, event_id, timestamp, task_id and status set.
	InsertProgress(ctx context.Context, events []schema.Progress) error

	// Tasks lists the tasks matching f, newest first by (UpdatedAt, TaskID).
	Tasks(ctx context.Context, f TaskFilter) ([]Task, error)
	// Task returns one task's current state, or ErrNotFound.
	Task(ctx context.Context, tenant, taskID string) (Task, error)
	// TaskEvents returns one task's events, oldest first.
	TaskEvents(ctx context.Context, tenant, taskID string, f EventFilter) ([]schema.Progress, error)
	// StreamTasks calls fn with every task matching f, in the order of
	// Tasks, for exports: a walk of the whole selection that costs about
	// what reading it once does, with memory bounded whatever its size,
	// where paging Tasks to the end would cost more per page the longer
	// the selection. f.After is honoured; f.Limit is not used. It stops at
	// the first error, of fn or of the store, or when ctx ends, and returns
	// it. fn may read the store itself, as an export of each task's
	// events does.
	StreamTasks(ctx context.Context, f TaskFilter, fn func(Task) error) error
}

// Task is the current state of a task, as every API renders it, derived from its progress events:
// the fields of the latest event by (timestamp, seq, ingest_order,
// event_id), which makes it deterministic even when events share a
// millisecond or arrive out of order.
type Task struct {
	Tenant      string            `json:"-"`
	TaskID      string            `json:"task_id"`
	UserID      string            `json:"user_id,omitempty"`
	TaskType    string            `json:"task_type,omitempty"`
	TaskName    string            `json:"task_name,omitempty"`
	Status      schema.Status     `json:"status"`
	CurrentStep string            `json:"current_step,omitempty"`
	StepsDone   int64             `json:"steps_done"`
	StepsTotal  int64             `json:"steps_total"`
	Message     string            `json:"message,omitempty"`
	ETA         *int64            `json:"eta,omitempty"`
	Error       string            `json:"error,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`

	// Progress is that of the latest event that carried one, and
	// ProgressAt that event's timestamp (0 when none did).
	Progress   float64 `json:"progress"`
	ProgressAt int64   `json:"progress_at,omitempty"`

	CreatedAt int64  `json:"created_at"`           // timestamp of the earliest event, unix ms
	StartedAt *int64 `json:"started_at,omitempty"` // timestamp of the earliest "running" event
	UpdatedAt int64  `json:"updated_at"`           // timestamp of the latest event

	// The rest of the latest event's order key, and its id.
	Seq         int64  `json:"seq"`
	IngestOrder int64  `json:"ingest_order"`
	EventID     string `json:"event_id"`

	// Events counts the distinct events of the task.
	Events int64 `json:"events"`
}

// Order returns the place of t's latest event in its task's order.
func (t *Task) Order() schema.Order {
	return schema.Order{Timestamp: t.UpdatedAt, Seq: t.Seq, IngestOrder: t.IngestOrder, EventID: t.EventID}
}

// TaskCursor marks a position in a task listing, which is ordered by
// (UpdatedAt, TaskID) descending.
type TaskCursor struct {
	UpdatedAt int64
	TaskID    string
}

// TaskFilter selects tasks of one tenant. Zero fields do not filter.
type TaskFilter struct {
	Tenant       string
	Statuses     []schema.Status
	TaskIDs      []string
	UserID       string
	TaskType     string
	UpdatedSince int64 // unix ms, inclusive
	UpdatedUntil int64 // unix ms, exclusive
	After        *TaskCursor
	Limit        int // required, > 0
}

// EventCursor marks a position in a task's timeline, which is ordered by
// (Timestamp, Seq, IngestOrder, EventID) ascending.
type EventCursor struct {
	Timestamp   int64
	Seq         int64
	IngestOrder int64
	EventID     string
}

// EventFilter selects a page of one task's events.
type EventFilter struct {
	After *EventCursor
	Limit int // required, > 0
}
