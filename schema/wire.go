package schema

import (
	"encoding/json"
	"fmt"
)

// Bus topics, one per signal.
const (
	TopicProgress   = "progress"
	TopicDeadLetter = "deadletter"
)

// EncodeProgress encodes p as it travels on the bus. The encoding is JSON
// so that records stay readable with ordinary Kafka tools.
func EncodeProgress(p *Progress) ([]byte, error) {
	return json.Marshal(p)
}

// DecodeProgress decodes a bus record written by EncodeProgress and checks
// the fields that every stored record must have: a record missing them
// cannot be stored and belongs in the dead-letter topic.
func DecodeProgress(b []byte) (Progress, error) {
	var p Progress
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("decode progress record: %w", err)
	}
	if p.Tenant == "" || p.EventID == "" || p.TaskID == "" || p.Timestamp == 0 || !p.Status.Valid() {
		return p, fmt.Errorf("decode progress record: missing tenant, event_id, task_id, timestamp or status")
	}
	return p, nil
}
