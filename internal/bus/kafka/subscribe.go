package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/segmentio/kafka-go"

	"github.com/taskpulse/taskpulse/internal/bus"
)

// subscribeBatch caps the records handed to a subscriber at once. A
// subscriber gets whatever has arrived, without waiting for more.
const subscribeBatch = 500

// Subscribe reads every partition of topics from its end at the time of the
// call, with one partition reader each and no consumer group: a group per
// subscriber would leave an abandoned group in the cluster each time a
// stream instance restarts, and a partition reader needs no coordination.
func (b *Bus) Subscribe(ctx context.Context, topics []string, h bus.Handler) error {
	ctx, leave, err := b.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if len(topics) == 0 {
		return errors.New("cannot subscribe: no topics given")
	}
	topics = b.names(topics)
	readers, err := b.partitionReaders(ctx, topics)
	if err != nil {
		if ctx.Err() != nil {
			return b.endErr()
		}
		return fmt.Errorf("cannot subscribe to topics %v: %w", topics, err)
	}
	bus.Subscribed(ctx)

	ctx, cancel := context.WithCancel(ctx)
	msgs := make(chan kafka.Message, subscribeBatch)
	fail := make(chan error, len(readers))
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		for _, r := range readers {
			b.closeReader(r)
		}
	}()
	for _, r := range readers {
		wg.Go(func() { forward(ctx, r, msgs, fail) })
	}

	for {
		var first kafka.Message
		select {
		case <-ctx.Done():
			return b.endErr()
		case err := <-fail:
			return fmt.Errorf("cannot read topics %v: %w", topics, err)
		case first = <-msgs:
		}
		batch := []bus.Record{b.record(first)}
	drain:
		for len(batch) < subscribeBatch {
			select {
			case m := <-msgs:
				batch = append(batch, b.record(m))
			default:
				break drain
			}
		}
		if err := h(ctx, batch); err != nil {
			return err
		}
	}
}

// partitionReaders returns a reader for each partition of topics, placed at
// the partition's current end, so the subscriber sees exactly the records
// published after this call resolved the offsets.
func (b *Bus) partitionReaders(ctx context.Context, topics []string) ([]*kafka.Reader, error) {
	if err := b.ensureTopics(ctx, topics); err != nil {
		return nil, err
	}
	ends, err := b.partitionEnds(ctx, topics)
	if err != nil {
		return nil, err
	}
	var readers []*kafka.Reader
	for t, offsets := range ends {
		for _, o := range offsets {
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers:     b.cfg.Brokers,
				Topic:       t,
				Partition:   o.Partition,
				Dialer:      b.conn.dialer(b.cfg.ClientID),
				MinBytes:    1,
				MaxBytes:    10 << 20,
				MaxWait:     fetchWait,
				ErrorLogger: errorLogger(b.log.With("topic", t, "partition", o.Partition)),
			})
			if err := r.SetOffset(o.LastOffset); err != nil {
				panic("BUG: cannot set the offset of a partition reader: " + err.Error())
			}
			readers = append(readers, r)
		}
	}
	return readers, nil
}

// forward sends the records of r to msgs until ctx ends, or reports the
// first read error to fail.
func forward(ctx context.Context, r *kafka.Reader, msgs chan<- kafka.Message, fail chan<- error) {
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if unavailable(err) {
				// A partition whose leader is down: the reader goes on
				// trying, with backoff, and only reports each failed
				// round; the subscriber waits for the new leader.
				continue
			}
			fail <- err
			return
		}
		select {
		case msgs <- m:
		case <-ctx.Done():
			return
		}
	}
}
