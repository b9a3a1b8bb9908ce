package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// MetricKind says how a metric's values combine.
type MetricKind string

// The metric kinds. A gauge is a value at a time; a counter only grows
// (until its process restarts), so its rate is what charts show; a
// histogram sample is one observation of a distribution (a duration, a
// size), so its quantiles are what charts show.
const (
	KindGauge     MetricKind = "gauge"
	KindCounter   MetricKind = "counter"
	KindHistogram MetricKind = "histogram"
)

// Valid reports whether k is a known kind.
func (k MetricKind) Valid() bool {
	return k == KindGauge || k == KindCounter || k == KindHistogram
}

// Metric is one sample of a named metric.
type Metric struct {
	Tenant      string            `json:"tenant,omitempty"`
	EventID     string            `json:"event_id,omitempty"`
	Timestamp   int64             `json:"timestamp,omitempty"` // unix milliseconds
	IngestOrder int64             `json:"ingest_order,omitempty"`
	Name        string            `json:"name"`
	Kind        MetricKind        `json:"kind,omitempty"` // gauge when absent
	Value       float64           `json:"value"`
	Unit        string            `json:"unit,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	TaskID      string            `json:"task_id,omitempty"`
}

// Validate checks m as a client sent it, like Progress.Validate. Metric
// names follow Prometheus: [a-zA-Z_:][a-zA-Z0-9_:]*, so that samples from
// Prometheus and OTLP clients and from JSON clients share one namespace.
func (m *Metric) Validate(now int64) []FieldError {
	var errs []FieldError
	add := func(field, reason string) { errs = append(errs, FieldError{Field: field, Reason: reason}) }
	switch {
	case m.Name == "":
		add("name", "is required")
	case len(m.Name) > MaxNameLen || !validMetricName(m.Name):
		add("name", "must match [a-zA-Z_:][a-zA-Z0-9_:]* and be at most 512 bytes")
	}
	if m.Kind != "" && !m.Kind.Valid() {
		add("kind", "must be one of gauge, counter, histogram")
	}
	switch {
	case math.IsNaN(m.Value) || math.IsInf(m.Value, 0):
		add("value", "must be a finite number")
	case m.Kind == KindCounter && m.Value < 0:
		// A counter counts from zero; below it, rates and resets misread.
		add("value", "must not be negative for a counter")
	}
	checkText(add, "unit", m.Unit, MaxNameLen)
	checkID(add, "event_id", m.EventID, false)
	checkID(add, "task_id", m.TaskID, false)
	checkTimestamp(add, m.Timestamp, now)
	checkAttributes(add, "labels", m.Labels)
	return errs
}

func validMetricName(s string) bool {
	for i, r := range s {
		switch {
		case r == '_' || r == ':' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// TopicMetrics is the bus topic of metric samples, keyed by metric name.
const TopicMetrics = "metrics"

// EncodeMetric encodes m as it travels on the bus.
func EncodeMetric(m *Metric) ([]byte, error) { return json.Marshal(m) }

// DecodeMetric decodes a bus record written by EncodeMetric and checks the
// fields every stored sample must have.
func DecodeMetric(b []byte) (Metric, error) {
	m, err := decodeRecord(b, readMetric)
	if err != nil {
		return m, fmt.Errorf("decode metric record: %w", err)
	}
	if m.Tenant == "" || m.EventID == "" || m.Timestamp == 0 || m.Name == "" || !m.Kind.Valid() {
		return m, errors.New("decode metric record: missing tenant, event_id, timestamp, name or kind")
	}
	return m, nil
}

// readMetric reads a bus record on the fast path.
func readMetric(b []byte) (Metric, bool) {
	r := busReader(b)
	m, ok := r.Metric()
	return m, ok && r.Done()
}
