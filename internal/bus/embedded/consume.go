package embedded

import (
	"context"
	"time"

	"github.com/taskpulse/taskpulse/internal/bus"
)

// defaultMaxBatch applies when ConsumeOptions.MaxBatch is not positive.
const defaultMaxBatch = 1000

// Consume implements bus.Consume. Each topic has one partition, owned by
// one member of the group at a time; the other members stand by and take
// it over when its owner returns, as a Kafka rebalance would.
func (b *Bus) Consume(ctx context.Context, group string, topics []string, opts bus.ConsumeOptions, h bus.Handler) error {
	ctx, leave, err := b.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	ts, err := b.topicList(topics)
	if err != nil {
		return err
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = defaultMaxBatch
	}
	m := &member{b: b, g: b.group(group), topics: ts, cursors: make([]*cursor, len(ts))}
	defer m.leave()
	for {
		batch, err := m.gather(ctx, opts)
		if err != nil || batch == nil {
			return err
		}
		if err := h(ctx, batch); err != nil {
			return err
		}
		if err := m.commit(); err != nil {
			return err
		}
	}
}

// member is one Consume call in a group.
type member struct {
	b       *Bus
	g       *group
	topics  []*topic
	cursors []*cursor // cursors[i] is non-nil while the member owns topics[i]
	next    int       // where the next batch starts, so no topic starves
}

// claim takes every wanted topic that no other member owns and reports
// whether some are still owned by others.
func (m *member) claim() (waiting bool, err error) {
	for i, t := range m.topics {
		if m.cursors[i] != nil {
			continue
		}
		if !m.g.own(t.name, m) {
			waiting = true
			continue
		}
		off, err := m.b.join(m.g, t)
		if err != nil {
			return waiting, err
		}
		m.cursors[i] = &cursor{t: t, pos: off}
	}
	return waiting, nil
}

// gather returns the next batch: as soon as it holds MaxBatch records, or
// MaxWait after its first record. It returns a nil batch when ctx ends.
func (m *member) gather(ctx context.Context, opts bus.ConsumeOptions) ([]bus.Record, error) {
	var batch []bus.Record
	var deadline <-chan time.Time
	for {
		if ctx.Err() != nil {
			return nil, m.b.exitErr()
		}
		wake := m.b.changed()
		waiting, err := m.claim()
		if err != nil {
			return nil, err
		}
		var handover <-chan struct{}
		if waiting {
			handover = m.g.changedChan()
		}
		if batch, err = m.read(batch, opts.MaxBatch); err != nil {
			return nil, err
		}
		if len(batch) >= opts.MaxBatch || len(batch) > 0 && opts.MaxWait <= 0 {
			return batch, nil
		}
		if len(batch) > 0 && deadline == nil {
			timer := time.NewTimer(opts.MaxWait)
			defer timer.Stop()
			deadline = timer.C
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-handover:
		case <-deadline:
			return batch, nil
		}
	}
}

// read fills batch from the owned topics, starting with a different topic
// each time.
func (m *member) read(batch []bus.Record, limit int) ([]bus.Record, error) {
	n := len(m.cursors)
	m.next++
	for i := 0; i < n && len(batch) < limit; i++ {
		c := m.cursors[(m.next+i)%n]
		if c == nil {
			continue
		}
		var err error
		if batch, err = c.read(batch, limit); err != nil {
			return nil, err
		}
	}
	return batch, nil
}

// commit persists the position after the delivered batch for every owned
// topic that moved, then lets retention free what the group is done with.
func (m *member) commit() error {
	updates := map[string]int64{}
	var moved []*topic
	for _, c := range m.cursors {
		if c == nil {
			continue
		}
		if off, _ := m.g.offset(c.t.name); off != c.pos {
			updates[c.t.name] = c.pos
			moved = append(moved, c.t)
		}
	}
	if err := m.g.commit(updates); err != nil {
		return err
	}
	for _, t := range moved {
		m.b.retain(t)
	}
	return nil
}

// leave closes the member's cursors and hands its topics to the members
// standing by. Uncommitted positions are dropped, so the next owner starts
// at the last commit.
func (m *member) leave() {
	for _, c := range m.cursors {
		if c != nil {
			c.close()
		}
	}
	m.g.release(m)
}
