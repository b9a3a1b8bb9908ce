package kafka

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/segmentio/kafka-go"

	"github.com/taskpulse/taskpulse/internal/bus"
)

// Bus is a bus.Bus on an Apache Kafka cluster.
type Bus struct {
	cfg    Config
	conn   connection
	log    *slog.Logger
	writer *kafka.Writer
	// transport holds the writer's and admin's connections and their
	// metadata refresh; the writer does not close a transport it was given.
	transport *kafka.Transport
	// admin creates topics and reads partitions and offsets. It shares the
	// writer's transport, so a topic it creates is in the writer's
	// metadata before the first record is written to it.
	admin  *kafka.Client
	topics *topicCache

	// ctx ends when Close is called, stopping every running call.
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	calls  sync.WaitGroup
}

var _ bus.Bus = (*Bus)(nil)

// Option changes how Open builds the Bus.
type Option func(*options)

type options struct {
	log    *slog.Logger
	topics []string
}

// WithLogger sets the logger for errors kafka-go retries by itself. The
// default discards them.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

// WithTopics names topics Open creates when they are missing, so that a
// misconfigured cluster shows at start rather than at the first record.
// Topics not named here are created on first use.
func WithTopics(topics ...string) Option {
	return func(o *options) { o.topics = append(o.topics, topics...) }
}

// Open returns a Bus on the cluster cfg names. It contacts the brokers only
// when WithTopics asks it to create topics; otherwise the first call does.
func Open(ctx context.Context, cfg Config, opts ...Option) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot open Kafka bus: %w", err)
	}
	cfg = cfg.withDefaults()
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	conn, err := newConnection(cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot open Kafka bus: %w", err)
	}
	codec, err := compressionCodec(cfg.Compression)
	if err != nil {
		return nil, fmt.Errorf("cannot open Kafka bus: %w", err)
	}
	log := o.log.With("component", "bus.kafka")
	transport := conn.transport(cfg.ClientID)
	addr := kafka.TCP(cfg.Brokers...)
	b := &Bus{
		cfg:       cfg,
		conn:      conn,
		log:       log,
		writer:    newWriter(cfg, addr, transport, codec, log),
		transport: transport,
		admin:     &kafka.Client{Addr: addr, Transport: transport, Timeout: cfg.WriteTimeout},
		topics:    newTopicCache(),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	if len(o.topics) > 0 {
		if err := b.ensureTopics(ctx, b.names(o.topics)); err != nil {
			_ = b.Close() // The topic error is the one worth reporting.
			return nil, fmt.Errorf("cannot open Kafka bus: %w", err)
		}
	}
	return b, nil
}

// Close stops every running Consume and Subscribe, waits for them and for
// running Publish calls, and releases the connections.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.calls.Wait()
	err := b.writer.Close()
	b.transport.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("cannot close Kafka writer: %w", err)
	}
	return nil
}

// enter registers a call, so Close waits for it. It returns a context that
// ends with ctx or with Close, and a func to call when the call returns; or
// bus.ErrClosed.
func (b *Bus) enter(ctx context.Context) (context.Context, func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, nil, bus.ErrClosed
	}
	b.calls.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(b.ctx, cancel)
	return ctx, func() {
		stop()
		cancel()
		b.calls.Done()
	}, nil
}

// endErr is what Consume and Subscribe return once their context ended:
// nil when the caller ended it, bus.ErrClosed when Close did.
func (b *Bus) endErr() error {
	if b.ctx.Err() != nil {
		return bus.ErrClosed
	}
	return nil
}

// closeReader closes r and logs a failure, which only means a connection
// did not close cleanly: nothing is lost, since commits happen before it.
func (b *Bus) closeReader(r io.Closer) {
	if err := r.Close(); err != nil {
		b.log.Warn("cannot close Kafka reader", "err", err)
	}
}

// errorLogger hands kafka-go's internal errors, which it retries by itself,
// to slog.
// debugLogger passes the client's routine messages (joins, assignments,
// offsets) to log at debug level.
func debugLogger(log *slog.Logger) kafka.Logger {
	return kafka.LoggerFunc(func(msg string, args ...any) {
		if log.Enabled(context.Background(), slog.LevelDebug) {
			log.Debug(fmt.Sprintf(msg, args...))
		}
	})
}

func errorLogger(log *slog.Logger) kafka.Logger {
	return kafka.LoggerFunc(func(msg string, args ...any) {
		log.Warn(fmt.Sprintf(msg, args...))
	})
}

// name returns the cluster's name of a bus topic or consumer group.
func (b *Bus) name(s string) string { return b.cfg.TopicPrefix + s }

func (b *Bus) names(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = b.name(s)
	}
	return out
}
