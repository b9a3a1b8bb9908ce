package control

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/taskpulse/taskpulse/schema"
)

// TopicControl is the bus topic of control requests, keyed by task id.
const TopicControl = "control"

// DocumentKind is the kind of the store documents that keep a task's
// latest control request, whose id is the task's.
const DocumentKind = "task_control"

// Action is what a request asks of the worker.
type Action string

const (
	Cancel Action = "cancel"
	Pause  Action = "pause"
	Resume Action = "resume"
)

// Target is the status that acknowledges the action, and false for a
// string that names no action.
func (a Action) Target() (schema.Status, bool) {
	switch a {
	case Cancel:
		return schema.StatusCancelled, true
	case Pause:
		return schema.StatusPaused, true
	case Resume:
		return schema.StatusRunning, true
	}
	return "", false
}

// Bounds of the time a worker has to acknowledge, and the one a request
// gets when its caller names none.
const (
	MinAckTimeout     = time.Second
	MaxAckTimeout     = 24 * time.Hour
	DefaultAckTimeout = 30 * time.Second
)

// MaxRequestedBy bounds the requested_by a caller may give.
const MaxRequestedBy = 256

// Request is a task's control request as the bus carries it and a store
// document keeps it. Times are unix milliseconds.
type Request struct {
	Tenant string `json:"tenant"`
	TaskID string `json:"task_id"`
	// UserID is the task's, so that a worker may follow every request
	// for its user's tasks.
	UserID string `json:"user_id,omitempty"`
	// ID is the request's own, the event id of the operation that made
	// it: a retried operation names the request it made.
	ID             string `json:"id"`
	Action         Action `json:"action"`
	RequestedAt    int64  `json:"requested_at"`
	RequestedBy    string `json:"requested_by"`
	AckDeadline    int64  `json:"ack_deadline"`
	AcknowledgedAt int64  `json:"acknowledged_at,omitempty"`
	// Ended says the task finished, or was deleted, without acknowledging.
	Ended bool `json:"ended,omitempty"`
	// Version grows with each state of the request and with each new
	// request of the task: see stage.
	Version int64 `json:"version"`
}

// A request's version is its time of asking times stages, plus its stage,
// so that a later request supersedes every state of an earlier one.
const (
	stages        = 4
	stageAsked    = 0
	stageAcked    = 1
	stageEnded    = 2
	stageReplaced = stages
)

// NewVersion is the version of a request asked at ms, after prev's (0
// when the task had none).
func NewVersion(ms, prev int64) int64 {
	return max(ms*stages, prev-prev%stages+stageReplaced)
}

// Pending says the request waits for the worker: neither acknowledged
// nor ended by the task.
func (r *Request) Pending() bool { return r.AcknowledgedAt == 0 && !r.Ended }

// Encode is the request's bus record value and document body.
func (r *Request) Encode() []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic("BUG: encode control request: " + err.Error())
	}
	return b
}

// Decode reads a request Encode wrote.
func Decode(b []byte) (Request, error) {
	var r Request
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("decode control request: %w", err)
	}
	if _, ok := r.Action.Target(); !ok || r.Tenant == "" || r.TaskID == "" {
		return r, fmt.Errorf("decode control request: no tenant, task or action")
	}
	return r, nil
}

// Time is a unix millisecond time that JSON shows as RFC 3339, in UTC.
type Time int64

func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.UnixMilli(int64(t)).UTC().Format("2006-01-02T15:04:05.000Z07:00") + `"`), nil
}

func (t *Time) UnmarshalJSON(b []byte) error {
	var at time.Time
	if err := json.Unmarshal(b, &at); err != nil {
		return err
	}
	*t = Time(at.UnixMilli())
	return nil
}

// View is a task's control state as every task read shows it, under
// "control".
type View struct {
	Action         Action `json:"action"`
	RequestedAt    Time   `json:"requested_at"`
	RequestedBy    string `json:"requested_by"`
	AckDeadline    Time   `json:"ack_deadline"`
	AcknowledgedAt *Time  `json:"acknowledged_at,omitempty"`
	// Unacknowledged is set once the deadline passed while the request
	// was pending.
	Unacknowledged bool `json:"unacknowledged,omitempty"`
}

// View renders the request at now (unix ms).
func (r *Request) View(now int64) *View {
	v := &View{Action: r.Action, RequestedAt: Time(r.RequestedAt), RequestedBy: r.RequestedBy, AckDeadline: Time(r.AckDeadline)}
	if r.AcknowledgedAt != 0 {
		at := Time(r.AcknowledgedAt)
		v.AcknowledgedAt = &at
	}
	v.Unacknowledged = r.Overdue(now)
	return v
}

// Overdue says the request passed its deadline while pending.
func (r *Request) Overdue(now int64) bool { return r.Pending() && now >= r.AckDeadline }

// Delivery is a pending request as a worker receives it: in the answer to
// its reports, from the long poll, or over the stream.
type Delivery struct {
	TaskID      string `json:"task_id"`
	Action      Action `json:"action"`
	RequestedAt Time   `json:"requested_at"`
	RequestedBy string `json:"requested_by"`
	AckDeadline Time   `json:"ack_deadline"`
}

// Delivery is what the worker of the request's task is told.
func (r *Request) Delivery() Delivery {
	return Delivery{TaskID: r.TaskID, Action: r.Action, RequestedAt: Time(r.RequestedAt), RequestedBy: r.RequestedBy, AckDeadline: Time(r.AckDeadline)}
}
