package schema

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Level is a log record's severity.
type Level string

// The levels a log record may carry, from least to most severe.
const (
	LevelDebug    Level = "DEBUG"
	LevelInfo     Level = "INFO"
	LevelWarning  Level = "WARNING"
	LevelError    Level = "ERROR"
	LevelCritical Level = "CRITICAL"
)

// Levels lists every level, least severe first.
var Levels = []Level{LevelDebug, LevelInfo, LevelWarning, LevelError, LevelCritical}

// Rank orders levels by severity: DEBUG is 1, CRITICAL 5, anything else 0.
func (l Level) Rank() int {
	for i, v := range Levels {
		if l == v {
			return i + 1
		}
	}
	return 0
}

// Valid reports whether l is one of Levels.
func (l Level) Valid() bool { return l.Rank() > 0 }

// Log is one log record, optionally tied to a task.
type Log struct {
	Tenant      string            `json:"tenant,omitempty"`
	EventID     string            `json:"event_id,omitempty"`
	Timestamp   int64             `json:"timestamp,omitempty"` // unix milliseconds
	IngestOrder int64             `json:"ingest_order,omitempty"`
	TaskID      string            `json:"task_id,omitempty"`
	UserID      string            `json:"user_id,omitempty"`
	Level       Level             `json:"level"`
	Message     string            `json:"message"`
	Source      string            `json:"source,omitempty"`
	TraceID     string            `json:"trace_id,omitempty"`
	SpanID      string            `json:"span_id,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
}

// Validate checks l as a client sent it, like Progress.Validate.
func (l *Log) Validate(now int64) []FieldError {
	var errs []FieldError
	add := func(field, reason string) { errs = append(errs, FieldError{Field: field, Reason: reason}) }
	checkID(add, "event_id", l.EventID, false)
	checkID(add, "task_id", l.TaskID, false)
	checkID(add, "user_id", l.UserID, false)
	checkID(add, "trace_id", l.TraceID, false)
	checkID(add, "span_id", l.SpanID, false)
	checkText(add, "source", l.Source, MaxNameLen)
	checkText(add, "message", l.Message, MaxMessageLen)
	switch {
	case l.Level == "":
		add("level", "is required")
	case !l.Level.Valid():
		add("level", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
	}
	if l.Message == "" {
		add("message", "is required")
	}
	checkTimestamp(add, l.Timestamp, now)
	checkAttributes(add, "attributes", l.Attributes)
	return errs
}

// TopicLogs is the bus topic of log records, keyed by task_id.
const TopicLogs = "logs"

// EncodeLog encodes l as it travels on the bus.
func EncodeLog(l *Log) ([]byte, error) { return json.Marshal(l) }

// DecodeLog decodes a bus record written by EncodeLog and checks the fields
// every stored log must have.
func DecodeLog(b []byte) (Log, error) {
	l, err := decodeRecord(b, readLog)
	if err != nil {
		return l, fmt.Errorf("decode log record: %w", err)
	}
	if l.Tenant == "" || l.EventID == "" || l.Timestamp == 0 || !l.Level.Valid() {
		return l, errors.New("decode log record: missing tenant, event_id, timestamp or level")
	}
	return l, nil
}

// readLog reads a bus record on the fast path.
func readLog(b []byte) (Log, bool) {
	r := busReader(b)
	l, ok := r.Log()
	return l, ok && r.Done()
}
