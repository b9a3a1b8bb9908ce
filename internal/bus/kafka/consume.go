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

	for {
		msgs, err := fetchBatch(ctx, r, opts)
		if err != nil {
			if ctx.Err() != nil {
				return b.endErr()
			}
			return fmt.Errorf("cannot fetch from topics %v: %w", topics, err)
		}
		if err := h(ctx, b.records(msgs)); err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		err = r.CommitMessages(cctx, msgs...)
		cancel()
		if err != nil {
			return fmt.Errorf("cannot commit offsets of group %s: %w", group, err)
		}
	}
}

// fetchBatch waits for one record, then gathers more until the batch holds
// opts.MaxBatch records or opts.MaxWait has passed since the first. When
// ctx ends it returns ctx's error and drops the partial batch: it was not
// handed out, so it stays uncommitted and is delivered again.
func fetchBatch(ctx context.Context, r *kafka.Reader, opts bus.ConsumeOptions) ([]kafka.Message, error) {
	first, err := r.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	msgs := []kafka.Message{first}
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
