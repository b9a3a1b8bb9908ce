package schema

import (
	"strings"
	"unicode/utf8"
)

// Status is the lifecycle state of a task.
type Status string

// The task states a progress event may carry.
const (
	StatusPending   Status = "pending"
	StatusRunning   Status = "running"
	StatusPaused    Status = "paused"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
	// StatusDeleted marks a task's tombstone, the progress event that
	// deleting a task puts on the bus. Only that route sets it: it is
	// not one of Statuses, which clients may report.
	StatusDeleted Status = "deleted"
)

// Statuses lists every status a client may report, in lifecycle order.
var Statuses = []Status{StatusPending, StatusRunning, StatusPaused, StatusCompleted, StatusFailed, StatusCancelled}

// Valid reports whether s is one of Statuses or StatusDeleted.
func (s Status) Valid() bool {
	if s == StatusDeleted {
		return true
	}
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Terminal reports whether a task in state s has finished.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCancelled || s == StatusDeleted
}

// Progress is one progress report of a long-running task.
//
// Progress is a pointer because an event that omits it (a status change
// such as "paused") must not reset the task's progress to zero: the current
// state keeps the progress of the latest event that carried one.
type Progress struct {
	Tenant      string            `json:"tenant,omitempty"`
	EventID     string            `json:"event_id,omitempty"`
	Timestamp   int64             `json:"timestamp,omitempty"` // unix milliseconds
	Seq         int64             `json:"seq,omitempty"`
	IngestOrder int64             `json:"ingest_order,omitempty"` // stamped by ingest; breaks ties after seq
	TaskID      string            `json:"task_id"`
	UserID      string            `json:"user_id,omitempty"`
	TaskType    string            `json:"task_type,omitempty"`
	TaskName    string            `json:"task_name,omitempty"`
	Status      Status            `json:"status"`
	Progress    *float64          `json:"progress,omitempty"`
	CurrentStep string            `json:"current_step,omitempty"`
	StepsDone   int64             `json:"steps_done,omitempty"`
	StepsTotal  int64             `json:"steps_total,omitempty"`
	Message     string            `json:"message,omitempty"`
	ETA         *int64            `json:"eta,omitempty"` // seconds left, as the client estimated
	Error       string            `json:"error,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
}

// Size limits for progress fields, in bytes.
const (
	MaxIDLen        = 256
	MaxNameLen      = 512
	MaxMessageLen   = 16 << 10
	MaxAttributes   = 64
	MaxAttrKeyLen   = 128
	MaxAttrValueLen = 4 << 10
	minTimestampMs  = 946684800000 // 2000-01-01: older is a unit mistake (seconds sent as ms)
	maxFutureSkewMs = 24 * 3600 * 1000
)

// Validate checks p as a client sent it. now is the ingest time in unix
// milliseconds; timestamps further than a day ahead of it are refused.
// It returns every problem found, not just the first, so a client can fix
// a whole batch at once.
func (p *Progress) Validate(now int64) []FieldError {
	var errs []FieldError
	add := func(field, reason string) { errs = append(errs, FieldError{Field: field, Reason: reason}) }

	checkID(add, "task_id", p.TaskID, true)
	checkID(add, "event_id", p.EventID, false)
	checkID(add, "user_id", p.UserID, false)
	checkText(add, "task_type", p.TaskType, MaxNameLen)
	checkText(add, "task_name", p.TaskName, MaxNameLen)
	checkText(add, "current_step", p.CurrentStep, MaxNameLen)
	checkText(add, "message", p.Message, MaxMessageLen)
	checkText(add, "error", p.Error, MaxMessageLen)
	switch {
	case p.Status == "":
		add("status", "is required")
	case !p.Status.Valid():
		add("status", "must be one of pending, running, paused, completed, failed, cancelled")
	case p.Status == StatusDeleted:
		add("status", "deleted is set only by DELETE /v1/tasks/{task_id}")
	}
	if p.Progress != nil && !(*p.Progress >= 0 && *p.Progress <= 100) { // also rejects NaN
		add("progress", "must be between 0 and 100")
	}
	if p.StepsDone < 0 {
		add("steps_done", "must not be negative")
	}
	if p.StepsTotal < 0 {
		add("steps_total", "must not be negative")
	}
	if p.StepsTotal > 0 && p.StepsDone > p.StepsTotal {
		add("steps_done", "must not exceed steps_total")
	}
	if p.ETA != nil && *p.ETA < 0 {
		add("eta", "must not be negative")
	}
	if p.Seq < 0 {
		add("seq", "must not be negative")
	}
	checkTimestamp(add, p.Timestamp, now)
	checkAttributes(add, "attributes", p.Attributes)
	return errs
}

func checkID(add func(string, string), field, v string, required bool) {
	switch {
	case v == "" && required:
		add(field, "is required")
	case len(v) > MaxIDLen:
		add(field, "must be at most 256 bytes")
	case !utf8.ValidString(v):
		add(field, "must be valid UTF-8")
	case strings.TrimSpace(v) != v:
		add(field, "must not start or end with spaces")
	case strings.IndexFunc(v, isControl) >= 0:
		add(field, "must not contain control characters")
	}
}

func checkText(add func(string, string), field, v string, max int) {
	switch {
	case len(v) > max:
		add(field, "is too long (limit "+itoa(max)+" bytes)")
	case !utf8.ValidString(v):
		add(field, "must be valid UTF-8")
	}
}

func checkTimestamp(add func(string, string), ts, now int64) {
	switch {
	case ts == 0:
	case ts < minTimestampMs:
		add("timestamp", "must be unix milliseconds after 2000-01-01")
	case ts > now+maxFutureSkewMs:
		add("timestamp", "must not be more than a day in the future")
	}
}

func checkAttributes(add func(string, string), field string, m map[string]string) {
	if len(m) > MaxAttributes {
		add(field, "must have at most 64 entries")
		return
	}
	for k, v := range m {
		switch {
		case k == "" || len(k) > MaxAttrKeyLen || !utf8.ValidString(k):
			add(field, "keys must be 1 to 128 bytes of UTF-8")
			return
		case len(v) > MaxAttrValueLen || !utf8.ValidString(v):
			add(field+"."+k, "must be at most 4096 bytes of UTF-8")
		}
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
