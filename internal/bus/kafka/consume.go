package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/taskpulse/taskpulse/internal/bus"
)

// Defaults for zero fields of bus.ConsumeOptions.
const (
	DefaultMaxBatch = 1000
	DefaultMaxWait  = 100 * time.Millisecond
)

// fetchWait is the longest a fetch request waits at the broker for new
// records. Records end the wait at once; the bound only keeps idle readers
// responsive to rebalances and to Close.
const fetchWait = 500 * time.Millisecond

// commitTimeout bounds the commit after a handler succeeded. The commit
// runs even when the caller's context has just ended, so a graceful
// shutdown does not redeliver the batch it has already stored.
const commitTimeout = 10 * time.Second

// Consume reads topics as member of the consumer group, hands batches to h
// and commits each batch after h returns nil.
func (b *Bus) Consume(ctx context.Context, group string, topics []string, opts bus.ConsumeOptions, h bus.Handler) error {
	ctx, leave, err := b.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if group == "" || len(topics) == 0 {
		return errors.New("cannot consume: a group and at least one topic are required")
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	topics = b.names(topics)
	if err := b.ensureTopics(ctx, topics); err != nil {
		if ctx.Err() != nil {
			return b.endErr()
		}
		return fmt.Errorf("cannot consume: %w", err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:     b.cfg.Brokers,
		GroupID:     b.name(group),
		GroupTopics: topics,
		Dialer:      b.conn.dialer(b.cfg.ClientID),
		// A new group starts at the oldest record, so nothing published
		// before the first writer started is skipped.
		StartOffset: kafka.FirstOffset,
		// Zero commits synchronously: CommitMessages returns once the
		// broker has the offsets.
		CommitInterval:    0,
		MinBytes:          1,
		MaxBytes:          10 << 20,
		MaxWait:           fetchWait,
		QueueCapacity:     opts.MaxBatch,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  time.Second,
		Logger:            debugLogger(b.log.With("group", group)),
		ErrorLogger:       errorLogger(b.log.With("group", group)),
	})
	defer b.closeReader(r)

	batches, free, stop := fetchAhead(ctx, r, opts)
	defer stop()
	commits := commitInOrder(ctx, r, group, free)
	defer commits.wait()
	for f := range batches {
		if f.err != nil {
			if ctx.Err() != nil {
				return b.endErr()
			}
			return fmt.Errorf("cannot fetch from topics %v: %w", topics, f.err)
		}
		if err := commits.failed(); err != nil {
			return err
		}
		if err := h(ctx, b.records(f.msgs)); err != nil {
			return err
		}
		commits.add(f.msgs)
	}
	if err := commits.wait(); err != nil && ctx.Err() == nil {
		return err
	}
	return b.endErr()
}

// committer commits handled batches in a goroutine of its own, one after
// another in the order they were handled, so the broker's round trip for
// one batch overlaps the handling of the next instead of adding to it.
// Offsets still only move past records the handler has finished with, and
// never backwards.
type committer struct {
	queue chan []kafka.Message
	done  chan struct{}
	err   error // the first failed commit's, guarded by mu
	mu    sync.Mutex
}

// commitInOrder starts the goroutine. Batches wait in a queue of one, so a
// slow broker holds the handler back instead of piling up commits; each
// batch's slice goes back to free once committed. The commits run even when
// ctx has just ended, so a graceful shutdown does not redeliver the batches
// already stored.
func commitInOrder(ctx context.Context, r *kafka.Reader, group string, free chan<- []kafka.Message) *committer {
	c := &committer{queue: make(chan []kafka.Message, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for msgs := range c.queue {
			if c.failed() != nil {
				continue
			}
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
			err := r.CommitMessages(cctx, msgs...)
			cancel()
			if err != nil {
				c.mu.Lock()
				c.err = fmt.Errorf("cannot commit offsets of group %s: %w", group, err)
				c.mu.Unlock()
				continue
			}
			// The handed out records may still hold the values; the
			// slice must not keep them alive as well.
			clear(msgs)
			select {
			case free <- msgs:
			default:
			}
		}
	}()
	return c
}

// add queues a handled batch for its commit.
func (c *committer) add(msgs []kafka.Message) { c.queue <- msgs }

// failed returns the error of a commit that failed, if any did.
func (c *committer) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// wait ends the queue once and waits for the commits in it.
func (c *committer) wait() error {
	select {
	case <-c.done:
	default:
		close(c.queue)
		<-c.done
	}
	return c.failed()
}

// fetched is one batch, or why there is none.
type fetched struct {
	msgs []kafka.Message
	err  error
}

// busyPoll is how long fetchAhead goes on filling a batch between offers
// to a handler that is still busy with the one before.
const busyPoll = 5 * time.Millisecond

// fetchAhead gathers batches in a goroutine of its own, so the next batch
// fills while the handler stores the one before: the handler, not the
// fetching, then sets the pace. A batch is offered once it is full or
// opts.MaxWait has passed since its first record; while the handler is
// still busy it keeps growing towards opts.MaxBatch, so a handler that
// falls behind gets fewer, larger batches instead of a queue of small ones.
// Batches come in order on batches, one at a time, and the channel closes
// after an error or once ctx ends. Slices sent back on free are filled
// again instead of growing fresh ones of up to MaxBatch messages. stop ends
// the goroutine and waits for it; a batch gathered but not handed out stays
// uncommitted and is delivered again.
func fetchAhead(ctx context.Context, r *kafka.Reader, opts bus.ConsumeOptions) (batches <-chan fetched, free chan<- []kafka.Message, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan fetched)
	// Three slices exist at most: the one filling, the one in the handler
	// and the one being committed.
	recycled := make(chan []kafka.Message, 3)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		for {
			var buf []kafka.Message
			select {
			case buf = <-recycled:
			default:
			}
			msgs, err := fetchBatch(ctx, r, opts, buf[:0])
			for err == nil && len(msgs) < opts.MaxBatch {
				select {
				case out <- fetched{msgs, nil}:
					msgs = nil
				default:
					msgs, err = fetchUntil(ctx, r, opts.MaxBatch, busyPoll, msgs)
				}
				if msgs == nil {
					break
				}
			}
			if msgs == nil && err == nil {
				continue
			}
			select {
			case out <- fetched{msgs, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return out, recycled, func() { cancel(); <-done }
}

// fetchBatch waits for one record, then gathers more until the batch holds
// opts.MaxBatch records or opts.MaxWait has passed since the first, and
// appends them to msgs. When ctx ends it returns ctx's error and drops the
// partial batch: it was not handed out, so it stays uncommitted and is
// delivered again.
func fetchBatch(ctx context.Context, r *kafka.Reader, opts bus.ConsumeOptions, msgs []kafka.Message) ([]kafka.Message, error) {
	first, err := r.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	return fetchUntil(ctx, r, opts.MaxBatch, opts.MaxWait, append(msgs, first))
}

// fetchUntil appends records to msgs until it holds limit of them or wait
// has passed, as fetchBatch does after the first record.
func fetchUntil(ctx context.Context, r *kafka.Reader, limit int, wait time.Duration, msgs []kafka.Message) ([]kafka.Message, error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for len(msgs) < limit {
		m, err := r.FetchMessage(wctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if wctx.Err() != nil {
				break
			}
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

func (b *Bus) records(msgs []kafka.Message) []bus.Record {
	recs := make([]bus.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = b.record(m)
	}
	return recs
}
