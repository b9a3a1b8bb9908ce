package stream

import (
	"encoding/json"
	"fmt"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// orderKey orders the events of one task as the store does when it
// derives the task's current state: by timestamp, then seq, then ingest
// order, then event id.
type orderKey struct {
	timestamp   int64
	seq         int64
	ingestOrder int64
	eventID     string
}

func progressKey(p *schema.Progress) orderKey {
	return orderKey{p.Timestamp, p.Seq, p.IngestOrder, p.EventID}
}

func taskKey(t *store.Task) orderKey {
	return orderKey{t.UpdatedAt, t.Seq, t.IngestOrder, t.EventID}
}

func (k orderKey) after(o orderKey) bool {
	switch {
	case k.timestamp != o.timestamp:
		return k.timestamp > o.timestamp
	case k.seq != o.seq:
		return k.seq > o.seq
	case k.ingestOrder != o.ingestOrder:
		return k.ingestOrder > o.ingestOrder
	default:
		return k.eventID > o.eventID
	}
}

// event is one progress record on its way to the connections that follow
// its task. It is shared by all of them, so it is encoded once and never
// changed after.
type event struct {
	p     schema.Progress
	key   orderKey
	frame []byte
}

func newEvent(p schema.Progress) (*event, error) {
	ev := &event{p: p, key: progressKey(&p)}
	// The tenant is the connection's own and is not part of the protocol.
	out := p
	out.Tenant = ""
	frame, err := json.Marshal(progressMessage{Type: TypeProgress, Event: &out})
	if err != nil {
		return nil, fmt.Errorf("encode progress message: %w", err)
	}
	ev.frame = frame
	return ev, nil
}
