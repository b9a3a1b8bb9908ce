package stream

import (
	"context"
	"time"
)

// pingSlots spreads the pings over the ping interval: each connection
// belongs to one slot, and one slot is pinged per tick, so that thousands
// of connections do not all start a writer at once.
const pingSlots = 16

// pingConnections pings every connection once per PingInterval until ctx
// ends. A single timer for all of them keeps an idle connection down to
// its reader goroutine.
func (s *Service) pingConnections(ctx context.Context) {
	tick := time.NewTicker(max(s.cfg.PingInterval/pingSlots, 1))
	defer tick.Stop()
	for slot := uint32(0); ; slot = (slot + 1) % pingSlots {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, c := range s.connections(slot) {
			c.ping()
		}
	}
}

// connections lists the connections of a ping slot.
func (s *Service) connections(slot uint32) []*client {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*client
	for c := range s.clients {
		if c.pingSlot == slot {
			out = append(out, c)
		}
	}
	return out
}
