package stream

import (
	"encoding/json"
	"fmt"

	"github.com/taskpulse/taskpulse/schema"
)

// event is one progress record on its way to the connections that follow
// its task. It is shared by all of them, so it is encoded once and never
// changed after.
type event struct {
	p     schema.Progress
	key   schema.Order
	frame []byte
}

func newEvent(p schema.Progress, r renderer) (*event, error) {
	ev := &event{p: p, key: p.Order()}
	out := r.event(&p)
	// The tenant is the connection's own and is not part of the protocol.
	shown := p
	shown.Tenant = ""
	out.Progress = &shown
	frame, err := json.Marshal(progressMessage{Type: TypeProgress, Event: &out})
	if err != nil {
		return nil, fmt.Errorf("encode progress message: %w", err)
	}
	ev.frame = frame
	return ev, nil
}
