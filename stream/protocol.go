package stream

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Subscription selects the tasks whose progress a connection follows:
// exactly one of its fields is set. It is also how the server names a
// subscription back to the client, in snapshots and unsubscribe answers.
type Subscription struct {
	TaskID string `json:"task_id,omitempty"`
	UserID string `json:"user_id,omitempty"`
	All    bool   `json:"all,omitempty"`
}

func (s Subscription) validate() error {
	set := 0
	for _, on := range []bool{s.TaskID != "", s.UserID != "", s.All} {
		if on {
			set++
		}
	}
	switch {
	case set != 1:
		return &Error{Code: CodeInvalidMessage, Message: "a subscription names exactly one of task_id, user_id or all:true"}
	case len(s.TaskID) > schema.MaxIDLen || len(s.UserID) > schema.MaxIDLen:
		return &Error{Code: CodeInvalidMessage, Message: fmt.Sprintf("task_id and user_id are at most %d bytes", schema.MaxIDLen)}
	}
	return nil
}

func (s Subscription) matches(p *schema.Progress) bool {
	switch {
	case s.All:
		return true
	case s.TaskID != "":
		return s.TaskID == p.TaskID
	default:
		// A tombstone names no user: a user subscription may hold its
		// task, which the client alone knows (see client.queueLive).
		return s.UserID == p.UserID || p.Status == schema.StatusDeleted
	}
}

// covers reports whether s selects a task of the given id and user, which
// is what matches knows from an event.
func (s Subscription) covers(taskID, userID string) bool {
	return s.All || s.TaskID == taskID || (s.UserID != "" && s.UserID == userID)
}

// filter selects the tasks of a user or "all" subscription; those of task
// subscriptions are read together (see snapshots).
func (s Subscription) filter(tenant string, limit int) store.TaskFilter {
	return store.TaskFilter{Tenant: tenant, UserID: s.UserID, Limit: limit}
}

// Message types, in the "type" field of every message.
const (
	TypeSubscribe    = "subscribe"
	TypeUnsubscribe  = "unsubscribe"
	TypeSnapshot     = "snapshot"
	TypeProgress     = "progress"
	TypeSubscribed   = "subscribed"
	TypeUnsubscribed = "unsubscribed"
	TypeLog          = "log"
	TypeLogsDropped  = "logs_dropped"
	TypeNotification = "notification"
	TypeControl      = "control"
	TypeTaskControl  = "task_control"
	TypeError        = "error"
)

// clientMessage is what a client sends: a type and one subscription, to
// progress (the fields of Subscription, inline), to a task's logs, to
// notifications, or, for a worker, to control requests.
type clientMessage struct {
	Type string `json:"type"`
	Subscription
	Logs          *LogSubscription          `json:"logs,omitempty"`
	Notifications *NotificationSubscription `json:"notifications,omitempty"`
	Control       *ControlSubscription      `json:"control,omitempty"`
}

type snapshotMessage struct {
	Type         string       `json:"type"`
	Subscription Subscription `json:"subscription"`
	Tasks        []taskOut    `json:"tasks"`
	Truncated    bool         `json:"truncated,omitempty"`
}

type progressMessage struct {
	Type  string    `json:"type"`
	Event *eventOut `json:"event"`
}

// subscribedMessage confirms a subscription to logs or notifications,
// which have no snapshot to do so: everything it selects that arrives
// after it is sent.
type subscribedMessage struct {
	Type          string                    `json:"type"`
	Logs          *LogSubscription          `json:"logs,omitempty"`
	Notifications *NotificationSubscription `json:"notifications,omitempty"`
	Control       *ControlSubscription      `json:"control,omitempty"`
}

// unsubscribedMessage names the subscription that ended, in the field its
// subscribe message used.
type unsubscribedMessage struct {
	Type          string                    `json:"type"`
	Subscription  *Subscription             `json:"subscription,omitempty"`
	Logs          *LogSubscription          `json:"logs,omitempty"`
	Notifications *NotificationSubscription `json:"notifications,omitempty"`
	Control       *ControlSubscription      `json:"control,omitempty"`
}

type errorMessage struct {
	Type string `json:"type"`
	*Error
}

// parseClientMessage decodes one client message; the error it returns is
// an *Error to send back.
func parseClientMessage(data []byte) (clientMessage, error) {
	var m clientMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return m, &Error{Code: CodeInvalidJSON, Message: "a message is one JSON object: " + err.Error()}
	}
	if m.Type != TypeSubscribe && m.Type != TypeUnsubscribe {
		return m, &Error{Code: CodeInvalidMessage, Message: `"type" must be "subscribe" or "unsubscribe"`}
	}
	named := 0
	for _, on := range []bool{m.Subscription != Subscription{}, m.Logs != nil, m.Notifications != nil, m.Control != nil} {
		if on {
			named++
		}
	}
	switch {
	case named > 1:
		return m, &Error{Code: CodeInvalidMessage, Message: "a message names one subscription: task_id, user_id or all:true for progress, or logs, or notifications, or control"}
	case m.Logs != nil:
		return m, m.Logs.normalize()
	case m.Notifications != nil:
		return m, m.Notifications.validate()
	case m.Control != nil:
		return m, m.Control.validate()
	}
	return m, m.Subscription.validate()
}

// encodeError renders err as an error message. Errors that are not an
// *Error are internal and are not shown to the client in detail.
func encodeError(err error) []byte {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: CodeInternal, Message: "internal error"}
	}
	return mustEncode(errorMessage{Type: TypeError, Error: e})
}

// mustEncode encodes the server's own message types, which hold nothing
// json.Marshal can refuse.
func mustEncode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("BUG: encode stream message: " + err.Error())
	}
	return b
}
