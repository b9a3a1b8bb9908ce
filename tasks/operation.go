package tasks

import (
	"maps"
	"slices"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// kind names an operation, as a batch spells it in "op".
type kind string

const (
	opCreate   kind = "create"
	opUpdate   kind = "update"
	opComplete kind = "complete"
	opFail     kind = "fail"
	opCancel   kind = "cancel"
	opPause    kind = "pause"
	opResume   kind = "resume"
	opDelete   kind = "delete"
)

// targets are the statuses the lifecycle operations move a task to.
var targets = map[kind]schema.Status{
	opComplete: schema.StatusCompleted,
	opFail:     schema.StatusFailed,
	opCancel:   schema.StatusCancelled,
	opPause:    schema.StatusPaused,
	opResume:   schema.StatusRunning,
}

// lifecycleFields are what every lifecycle operation may say beside the
// status it sets.
var lifecycleFields = []string{"message", "attributes"}

// requestFields are what cancel, pause and resume may say when they
// become a request to the task's worker (see control.go); a direct change
// ignores them.
var requestFields = []string{"ack_timeout", "requested_by"}

// fieldsOf are the body fields each operation takes beside event_id (and
// op and task_id in a batch, where task_id names the task).
var fieldsOf = map[kind][]string{
	opCreate:   {"task_id", "user_id", "task_type", "task_name", "status", "progress", "current_step", "steps_done", "steps_total", "message", "eta", "error", "attributes"},
	opUpdate:   {"status", "progress", "current_step", "steps_done", "steps_total", "message", "eta", "error", "attributes"},
	opComplete: lifecycleFields,
	opFail:     append([]string{"error"}, lifecycleFields...),
	opCancel:   append(requestFields, lifecycleFields...),
	opPause:    append(requestFields, lifecycleFields...),
	opResume:   append(requestFields, lifecycleFields...),
	opDelete:   nil,
}

// operation is one change to one task, as a body or a batch item says
// it. A nil field was not sent and keeps the task's value.
type operation struct {
	Op          kind              `json:"op"`
	EventID     string            `json:"event_id"`
	TaskID      string            `json:"task_id"`
	UserID      *string           `json:"user_id"`
	TaskType    *string           `json:"task_type"`
	TaskName    *string           `json:"task_name"`
	Status      *schema.Status    `json:"status"`
	Progress    *float64          `json:"progress"`
	CurrentStep *string           `json:"current_step"`
	StepsDone   *int64            `json:"steps_done"`
	StepsTotal  *int64            `json:"steps_total"`
	Message     *string           `json:"message"`
	ETA         *int64            `json:"eta"`
	Error       *string           `json:"error"`
	Attributes  map[string]string `json:"attributes"`
	AckTimeout  *string           `json:"ack_timeout"`
	RequestedBy *string           `json:"requested_by"`
}

// sent lists the task fields op carries, by their JSON names.
func (op *operation) sent() []string {
	var names []string
	add := func(name string, present bool) {
		if present {
			names = append(names, name)
		}
	}
	add("task_id", op.TaskID != "")
	add("user_id", op.UserID != nil)
	add("task_type", op.TaskType != nil)
	add("task_name", op.TaskName != nil)
	add("status", op.Status != nil)
	add("progress", op.Progress != nil)
	add("current_step", op.CurrentStep != nil)
	add("steps_done", op.StepsDone != nil)
	add("steps_total", op.StepsTotal != nil)
	add("message", op.Message != nil)
	add("eta", op.ETA != nil)
	add("error", op.Error != nil)
	add("attributes", op.Attributes != nil)
	add("ack_timeout", op.AckTimeout != nil)
	add("requested_by", op.RequestedBy != nil)
	return names
}

// check reports what is wrong with op before any task is read: a field
// its kind does not take, or one it requires. inBatch says task_id names
// the task, as the path does for a single operation.
func (op *operation) check(inBatch bool) []schema.FieldError {
	var problems []schema.FieldError
	add := func(field, reason string) {
		problems = append(problems, schema.FieldError{Field: field, Reason: reason})
	}
	fields, ok := fieldsOf[op.Op]
	if !ok {
		add("op", "must be one of create, update, complete, fail, cancel, pause, resume, delete")
		return problems
	}
	for _, name := range op.sent() {
		switch {
		case inBatch && slices.Contains(requestFields, name):
			add(name, "is not a field of batch operations, which change the status at once")
		case !slices.Contains(fields, name) && !(inBatch && name == "task_id"):
			add(name, "is not a field of "+string(op.Op))
		}
	}
	if inBatch && op.Op != opCreate && op.TaskID == "" {
		add("task_id", "is required")
	}
	problems = append(problems, op.checkRequest()...)
	failing := op.Op == opFail || (op.Status != nil && *op.Status == schema.StatusFailed)
	if failing && (op.Error == nil || *op.Error == "") {
		add("error", "is required to fail a task")
	}
	return problems
}

// event is the progress event op makes of a task in state cur (nil for
// a create): the whole state of the task after the change, since a task's
// state is its latest event's fields, with the fields op sent in place
// and its attributes merged key by key. Progress alone is carried only
// when op sets it: the task keeps its last one, and the time it was
// reported, which its progress rate is measured to. The server-set
// fields are left to stamp.
func (op *operation) event(taskID string, cur *store.Task) schema.Progress {
	var p schema.Progress
	if cur != nil {
		p = schema.Progress{
			UserID: cur.UserID, TaskType: cur.TaskType, TaskName: cur.TaskName, Status: cur.Status,
			CurrentStep: cur.CurrentStep, StepsDone: cur.StepsDone, StepsTotal: cur.StepsTotal,
			Message: cur.Message, ETA: cur.ETA, Error: cur.Error, Attributes: maps.Clone(cur.Attributes),
		}
	} else {
		p.Status = schema.StatusPending
	}
	p.TaskID, p.EventID = taskID, op.EventID
	set(&p.UserID, op.UserID)
	set(&p.TaskType, op.TaskType)
	set(&p.TaskName, op.TaskName)
	set(&p.Status, op.Status)
	set(&p.CurrentStep, op.CurrentStep)
	set(&p.StepsDone, op.StepsDone)
	set(&p.StepsTotal, op.StepsTotal)
	set(&p.Message, op.Message)
	set(&p.Error, op.Error)
	if op.Progress != nil {
		p.Progress = op.Progress
	}
	if op.ETA != nil {
		p.ETA = op.ETA
	}
	if len(op.Attributes) > 0 {
		if p.Attributes == nil {
			p.Attributes = make(map[string]string, len(op.Attributes))
		}
		maps.Copy(p.Attributes, op.Attributes)
	}
	if to, ok := targets[op.Op]; ok {
		p.Status = to
	}
	if op.Op == opComplete {
		done := 100.0
		p.Progress = &done
	}
	return p
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// advance is the state of a task after its latest event e, which comes
// after every event behind prev (nil for a new task): the store's rules,
// applied to one event.
func advance(prev *store.Task, e *schema.Progress) store.Task {
	t := store.Task{CreatedAt: e.Timestamp}
	if prev != nil {
		t = *prev
	}
	t.Tenant, t.TaskID, t.UserID, t.TaskType, t.TaskName = e.Tenant, e.TaskID, e.UserID, e.TaskType, e.TaskName
	t.Status, t.CurrentStep, t.StepsDone, t.StepsTotal = e.Status, e.CurrentStep, e.StepsDone, e.StepsTotal
	t.Message, t.ETA, t.Error, t.Attributes = e.Message, e.ETA, e.Error, e.Attributes
	t.UpdatedAt, t.Seq, t.IngestOrder, t.EventID = e.Timestamp, e.Seq, e.IngestOrder, e.EventID
	if e.Progress != nil {
		t.Progress, t.ProgressAt = *e.Progress, e.Timestamp
	}
	if e.Status == schema.StatusRunning && t.StartedAt == nil {
		ts := e.Timestamp
		t.StartedAt = &ts
	}
	t.CreatedAt = min(t.CreatedAt, e.Timestamp)
	t.Events++
	return t
}
