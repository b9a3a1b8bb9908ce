package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"

	"github.com/segmentio/kafka-go"

	"github.com/taskpulse/taskpulse/internal/bus"
)

// newWriter returns the synchronous writer every Publish goes through.
// Each field below is chosen against a kafka-go default that would break the
// bus contract or its latency; doc.go explains them.
func newWriter(cfg Config, addr net.Addr, transport *kafka.Transport, codec kafka.Compression, log *slog.Logger) *kafka.Writer {
	return &kafka.Writer{
		Addr:         addr,
		Transport:    transport,
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: cfg.BatchTimeout,
		BatchSize:    cfg.BatchSize,
		WriteTimeout: cfg.WriteTimeout,
		ReadTimeout:  cfg.WriteTimeout,
		Compression:  codec,
		ErrorLogger:  errorLogger(log),
	}
}

// Publish writes recs and returns once every in-sync replica of their
// partitions holds them, or fails within the configured write timeout.
func (b *Bus) Publish(ctx context.Context, recs ...bus.Record) error {
	ctx, leave, err := b.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if len(recs) == 0 {
		return nil
	}
	callerCtx := ctx
	ctx, cancel := context.WithTimeout(ctx, b.cfg.WriteTimeout)
	defer cancel()

	topics := make([]string, 0, 1)
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		topics = append(topics, b.name(r.Topic))
		msgs[i] = b.message(r)
	}
	if err := b.ensureTopics(ctx, topics); err != nil {
		return b.publishErr(callerCtx, err)
	}
	if err := b.writer.WriteMessages(ctx, msgs...); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && callerCtx.Err() == nil {
			err = fmt.Errorf("no acknowledgement within the write timeout %s: %w", b.cfg.WriteTimeout, err)
		}
		return b.publishErr(callerCtx, fmt.Errorf("cannot write %d records: %w", len(msgs), firstWriteError(err)))
	}
	return nil
}

// publishErr sorts a failed Publish for its caller: bus.ErrClosed when
// Close ended it, the caller's own cancellation as is, bus.ErrUnavailable
// when the cluster could not take the records now (retrying later may
// work), and anything else, such as a record over the size limit, as a
// plain error.
func (b *Bus) publishErr(callerCtx context.Context, err error) error {
	switch {
	case b.ctx.Err() != nil:
		return bus.ErrClosed
	case errors.Is(callerCtx.Err(), context.Canceled):
		return err
	case unavailable(err):
		return fmt.Errorf("%w: %w", bus.ErrUnavailable, err)
	default:
		return err
	}
}

// unavailable tells whether err means the cluster cannot take records now:
// timeouts, unreachable or restarting brokers, and the errors Kafka itself
// marks retriable, such as NOT_ENOUGH_REPLICAS or LEADER_NOT_AVAILABLE.
// kafka-go reports a bootstrap address that does not answer as
// BROKER_NOT_AVAILABLE, which it does not count as retriable.
func unavailable(err error) bool {
	var kerr kafka.Error
	if errors.As(err, &kerr) {
		return kerr.Temporary() || kerr.Timeout() || kerr == kafka.BrokerNotAvailable
	}
	var nerr net.Error
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &nerr) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// firstWriteError unwraps kafka.WriteErrors, which holds one error per
// record, mostly the same one, into the first of them.
func firstWriteError(err error) error {
	var werrs kafka.WriteErrors
	if !errors.As(err, &werrs) {
		return err
	}
	for _, e := range werrs {
		if e != nil {
			return e
		}
	}
	return err
}

func (b *Bus) message(r bus.Record) kafka.Message {
	m := kafka.Message{Topic: b.name(r.Topic), Key: r.Key, Value: r.Value}
	if len(r.Headers) > 0 {
		m.Headers = make([]kafka.Header, 0, len(r.Headers))
		for k, v := range r.Headers {
			m.Headers = append(m.Headers, kafka.Header{Key: k, Value: []byte(v)})
		}
	}
	return m
}

func (b *Bus) record(m kafka.Message) bus.Record {
	r := bus.Record{
		Topic:     strings.TrimPrefix(m.Topic, b.cfg.TopicPrefix),
		Key:       m.Key,
		Value:     m.Value,
		Partition: m.Partition,
		Offset:    m.Offset,
	}
	if len(m.Headers) > 0 {
		r.Headers = make(map[string]string, len(m.Headers))
		for _, h := range m.Headers {
			r.Headers[h.Key] = string(h.Value)
		}
	}
	return r
}
