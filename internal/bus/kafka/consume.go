package kafka

import (
	"context"
	"errors"
	"fmt"
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
	for f := range batches {
		if f.err != nil {
			if ctx.Err() != nil {
				return b.endErr()
			}
			return fmt.Errorf("cannot fetch from topics %v: %w", topics, f.err)
		}
		if err := h(ctx, b.records(f.msgs)); err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		err := r.CommitMessages(cctx, f.msgs...)
		cancel()
		if err != nil {
			return fmt.Errorf("cannot commit offsets of group %s: %w", group, err)
		}
		// The handed out records may still hold the values; the slice
		// must not keep them alive as well.
		clear(f.msgs)
		free <- f.msgs
	}
	return b.endErr()
}

// fetched is one batch, or why there is none.
type fetched struct {
	msgs []kafka.Message
	err  error
}

// fetchAhead gathers batches in a goroutine of its own, so the next batch
// fills while the handler stores the one before: the handler, not the
// fetching, then sets the pace. Batches come in order on batches, one at a
// time, and the channel closes after an error or once ctx ends. Slices
// sent back on free are filled again instead of growing fresh ones of up to
// MaxBatch messages. stop ends the goroutine and waits for it; a batch
// gathered but not handed out stays uncommitted and is delivered again.
func fetchAhead(ctx context.Context, r *kafka.Reader, opts bus.ConsumeOptions) (batches <-chan fetched, free chan<- []kafka.Message, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan fetched)
	// Two slices exist at most: the one in the handler and the one filling.
	recycled := make(chan []kafka.Message, 2)
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
	msgs = append(msgs, first)
	wctx, cancel := context.WithTimeout(ctx, opts.MaxWait)
	defer cancel()
	for len(msgs) < opts.MaxBatch {
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
