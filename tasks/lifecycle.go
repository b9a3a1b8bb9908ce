package tasks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/schema"
)

// lifecycle is the one state machine of the task API: each status and the
// statuses a task in it may move to. Every operation that sets a status
// (PATCH, complete, fail, cancel, pause, resume, a batch's operations) is
// checked against it; README.md shows the same table. A status missing
// from it, a terminal one included, allows nothing.
var lifecycle = map[schema.Status][]schema.Status{
	schema.StatusPending: {schema.StatusRunning, schema.StatusPaused, schema.StatusCompleted, schema.StatusFailed, schema.StatusCancelled},
	schema.StatusRunning: {schema.StatusPaused, schema.StatusCompleted, schema.StatusFailed, schema.StatusCancelled},
	schema.StatusPaused:  {schema.StatusRunning, schema.StatusFailed, schema.StatusCancelled},
}

// codeConflict is the error code of a change the task's state forbids.
const codeConflict = "conflict"

// allowed reports whether a task in status from may take a change that
// leaves it in status to. An update may keep a status that may change
// (progress, say); a lifecycle operation must move the task on, so
// resuming a running task is refused. A finished task takes no change.
func allowed(from, to schema.Status, update bool) bool {
	next, open := lifecycle[from]
	return open && (update && from == to || slices.Contains(next, to))
}

// transitionProblem is the detail of a 409: which change was refused, the
// task's current status and the statuses it may move to, so that a client
// can tell "already done" from "not yet possible" without parsing text.
type transitionProblem struct {
	Index   int             `json:"index"`
	Field   string          `json:"field"`
	Reason  string          `json:"reason"`
	Current schema.Status   `json:"current"`
	Allowed []schema.Status `json:"allowed"`
}

// forbidden is the 409 of a change from status from to status to, by
// the index-th operation of its request.
func forbidden(index int, from, to schema.Status) *httpx.Error {
	names := make([]string, len(lifecycle[from]))
	for i, s := range lifecycle[from] {
		names[i] = string(s)
	}
	next := "nothing"
	if len(names) > 0 {
		next = strings.Join(names, ", ")
	}
	reason := fmt.Sprintf("cannot change from %s to %s; %s allows %s", from, to, from, next)
	return conflict(index, "status", reason, "the task "+reason, from)
}

// conflict is a 409 whose detail names the task's current status and the
// statuses it may move to.
func conflict(index int, field, reason, message string, current schema.Status) *httpx.Error {
	next := lifecycle[current]
	if next == nil {
		next = []schema.Status{} // a JSON array, even when empty
	}
	return &httpx.Error{
		Status:  fiber.StatusConflict,
		Code:    codeConflict,
		Message: message,
		Details: []transitionProblem{{Index: index, Field: field, Reason: reason, Current: current, Allowed: next}},
	}
}
