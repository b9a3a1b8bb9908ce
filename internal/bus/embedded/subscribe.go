package embedded

import (
	"context"

	"github.com/taskpulse/taskpulse/internal/bus"
)

// subscribeBatch caps the records handed to a subscriber at once.
const subscribeBatch = 1000

// Subscribe implements bus.Subscribe. A subscriber reads the log with its
// own cursors, starting at the durable end of each topic, so a slow one
// only lags: it never holds up Publish and never misses a record while the
// segments it needs are on disk.
func (b *Bus) Subscribe(ctx context.Context, topics []string, h bus.Handler) error {
	ctx, leave, err := b.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	ts, err := b.topicList(topics)
	if err != nil {
		return err
	}
	cursors := make([]*cursor, len(ts))
	for i, t := range ts {
		cursors[i] = &cursor{t: t, pos: t.durable.Load()}
		defer cursors[i].close()
	}
	bus.Subscribed(ctx)
	for next := 0; ; next++ {
		if ctx.Err() != nil {
			return b.exitErr()
		}
		wake := b.changed()
		var batch []bus.Record
		for i := range cursors {
			c := cursors[(next+i)%len(cursors)]
			if batch, err = c.read(batch, subscribeBatch); err != nil {
				return err
			}
		}
		if len(batch) > 0 {
			if err := h(ctx, batch); err != nil {
				return err
			}
			continue
		}
		select {
		case <-ctx.Done():
		case <-wake:
		}
	}
}
