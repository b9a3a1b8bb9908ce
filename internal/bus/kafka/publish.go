package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
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

	topics, msgs := b.messages(recs)
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

// messages turns recs into Kafka messages and lists their topics. The
// records of one request come together and share their topic and headers,
// so a run of records with equal ones shares one name and one header
// slice, which kafka-go only reads, instead of converting them per record.
func (b *Bus) messages(recs []bus.Record) (topics []string, msgs []kafka.Message) {
	msgs = make([]kafka.Message, len(recs))
	var headers []kafka.Header
	for i := range recs {
		r := &recs[i]
		if i == 0 || r.Topic != recs[i-1].Topic {
			topics = append(topics, b.name(r.Topic))
		}
		if i == 0 || !maps.Equal(r.Headers, recs[i-1].Headers) {
			headers = kafkaHeaders(r.Headers)
		}
		msgs[i] = kafka.Message{Topic: topics[len(topics)-1], Key: r.Key, Value: r.Value, Headers: headers}
	}
	return topics, msgs
}

func kafkaHeaders(m map[string]string) []kafka.Header {
	if len(m) == 0 {
		return nil
	}
	headers := make([]kafka.Header, 0, len(m))
	for k, v := range m {
		headers = append(headers, kafka.Header{Key: k, Value: []byte(v)})
	}
	return headers
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
