package schema

import (
	"encoding/json"
	"errors"
	"fmt"
)

// TopicNotifications is the bus topic of notifications, keyed by id.
const TopicNotifications = "notifications"

// Severity ranks a notification.
type Severity string

// The severities, least urgent first.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Valid reports whether s is a known severity.
func (s Severity) Valid() bool {
	return s == SeverityInfo || s == SeverityWarning || s == SeverityCritical
}

// DeliveryState is where a notification stands on one channel.
type DeliveryState string

// The delivery states.
const (
	DeliveryPending DeliveryState = "pending"
	DeliverySent    DeliveryState = "sent"
	DeliveryFailed  DeliveryState = "failed" // the last attempt failed; another follows
	DeliveryGivenUp DeliveryState = "given_up"
)

// Attempt is one try at delivering a notification on a channel.
type Attempt struct {
	At         int64  `json:"at"` // unix ms
	OK         bool   `json:"ok"`
	Status     int    `json:"status,omitempty"` // HTTP status, when there is one
	Error      string `json:"error,omitempty"`
	RetryAfter int64  `json:"retry_after_ms,omitempty"`
}

// Delivery is a notification's history on one channel.
type Delivery struct {
	Channel  string        `json:"channel"`
	State    DeliveryState `json:"state"`
	Attempts []Attempt     `json:"attempts,omitempty"`
	NextAt   int64         `json:"next_at,omitempty"` // when the next attempt is due
	SentAt   int64         `json:"sent_at,omitempty"`
}

// Notification tells a user that an alert changed state. Its ID is
// derived from the rule, the alert's group key and the transition, so the
// same transition seen twice (a redelivered record, two alerting
// processes) is one notification.
type Notification struct {
	ID         string            `json:"id"`
	Tenant     string            `json:"tenant,omitempty"`
	UserID     string            `json:"user_id,omitempty"`
	TaskID     string            `json:"task_id,omitempty"`
	Rule       string            `json:"rule"`
	GroupKey   string            `json:"group_key,omitempty"`
	State      string            `json:"state"` // the alert's new state: firing or resolved
	Severity   Severity          `json:"severity"`
	Title      string            `json:"title"`
	Body       string            `json:"body"`
	Labels     map[string]string `json:"labels,omitempty"`
	Channels   []string          `json:"channels,omitempty"`
	Deliveries []Delivery        `json:"deliveries,omitempty"`
	CreatedAt  int64             `json:"created_at"`
	SentAt     int64             `json:"sent_at,omitempty"`
	ReadAt     int64             `json:"read_at,omitempty"`
}

// EncodeNotification encodes n as it travels on the bus.
func EncodeNotification(n *Notification) ([]byte, error) { return json.Marshal(n) }

// DecodeNotification decodes a bus record written by EncodeNotification.
func DecodeNotification(b []byte) (Notification, error) {
	var n Notification
	if err := json.Unmarshal(b, &n); err != nil {
		return n, fmt.Errorf("decode notification record: %w", err)
	}
	if n.ID == "" || n.Tenant == "" || n.Rule == "" {
		return n, errors.New("decode notification record: missing id, tenant or rule")
	}
	return n, nil
}
