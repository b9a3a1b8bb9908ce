package writer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskpulse/taskpulse/internal/backoff"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/telemetry"
	"github.com/taskpulse/taskpulse/schema"
)

// Consumer is the part of the bus the writer needs: it consumes in a group
// and publishes poison records to the dead-letter topic.
type Consumer interface {
	Publish(ctx context.Context, recs ...bus.Record) error
	Consume(ctx context.Context, group string, topics []string, opts bus.ConsumeOptions, h bus.Handler) error
}

// Inserter is the part of the store the writer needs. Each call stores
// its records idempotently by event_id, so a redelivered batch counts once.
type Inserter interface {
	InsertProgress(ctx context.Context, events []schema.Progress) error
	InsertLogs(ctx context.Context, logs []schema.Log) error
	InsertMetrics(ctx context.Context, samples []schema.Metric) error
}

// SnapshotRefresher is what a store may offer besides Inserter: per-tenant
// summaries its reads trust as far as they go and complete from the events
// after them, which the writer brings up to date now and then for the
// tenants it stored progress of, so that reads never write and stay cheap.
type SnapshotRefresher interface {
	RefreshTaskSnapshots(ctx context.Context, tenant string) error
}

// DefaultGroup is the consumer group writers share unless told otherwise.
const DefaultGroup = "taskpulse-writer"

// DefaultBatchSize is Config.BatchSize unless set. Each insert has a fixed
// cost in the store (a transaction, its commit, the look-up of deleted
// tasks), which at 5,000 records made the embedded store fall three times
// further behind a sustained load than at 50,000; a batch waits at most
// BatchWait to fill, so a quiet writer still stores promptly.
const DefaultBatchSize = 50_000

// Config tunes the writer.
type Config struct {
	Group     string        // consumer group shared by every writer
	BatchSize int           // most records in one insert
	BatchWait time.Duration // longest a partial batch waits for more
	// RetryMin and RetryMax bound the backoff between failed inserts.
	RetryMin, RetryMax time.Duration
	// DrainTimeout bounds the insert of the batch in hand at shutdown.
	DrainTimeout time.Duration
	// RefreshEvery is how often the store's snapshots are refreshed for
	// the tenants stored since, when the store keeps any.
	RefreshEvery time.Duration
	// Members is how many members of the group the writer runs (see Run).
	Members int
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.Group == "":
		return errors.New("writer: group must be set")
	case c.BatchSize <= 0:
		return errors.New("writer: batch size must be positive")
	case c.BatchWait <= 0:
		return errors.New("writer: batch wait must be positive")
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return errors.New("writer: retry backoff must be positive, min <= max")
	case c.RefreshEvery <= 0:
		return errors.New("writer: refresh interval must be positive")
	case c.Members <= 0:
		return errors.New("writer: members must be positive")
	}
	return nil
}

func (c *Config) fillDefaults() {
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchWait == 0 {
		c.BatchWait = 200 * time.Millisecond
	}
	if c.RetryMin == 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 10 * time.Second
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 30 * time.Second
	}
	if c.RefreshEvery == 0 {
		c.RefreshEvery = time.Minute
	}
	if c.Members == 0 {
		c.Members = 2
	}
}

// Deps are what the writer talks to.
type Deps struct {
	Bus        Consumer
	Store      Inserter
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// TracerProvider makes a span of every insert; none: a no-op one.
	TracerProvider trace.TracerProvider
}

// topics are those the writer drains.
var topics = []string{schema.TopicProgress, schema.TopicLogs, schema.TopicMetrics}

// tracerName is the instrumentation scope of the writer's spans.
const tracerName = "github.com/taskpulse/taskpulse/ingest/writer"

// Writer drains the bus into the store.
type Writer struct {
	cfg    Config
	bus    Consumer
	store  Inserter
	log    *slog.Logger
	tracer trace.Tracer

	rows       *prometheus.CounterVec
	batchSizes prometheus.Histogram
	failures   prometheus.Counter

	// refresher is the store's, or nil; stale holds the tenants stored
	// since their last refresh.
	refresher SnapshotRefresher
	mu        sync.Mutex
	stale     map[string]bool
}

// New makes a writer; Run starts it.
func New(cfg Config, deps Deps) (*Writer, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Bus == nil || deps.Store == nil {
		panic("BUG: writer.New without a bus or a store")
	}
	deps.Logger, deps.Registerer, deps.TracerProvider = telemetry.Defaults(deps.Logger, deps.Registerer, deps.TracerProvider)
	w := &Writer{
		cfg:    cfg,
		bus:    deps.Bus,
		store:  deps.Store,
		log:    deps.Logger.With("component", "writer"),
		tracer: deps.TracerProvider.Tracer(tracerName),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskpulse_writer_records_total",
			Help: "Records the writer handled, by topic and outcome (stored, deadletter).",
		}, []string{"topic", "outcome"}),
		batchSizes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "taskpulse_writer_batch_size",
			Help:    "Records per store insert.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taskpulse_writer_insert_failures_total",
			Help: "Store inserts that failed and were retried.",
		}),
	}
	w.refresher, _ = deps.Store.(SnapshotRefresher)
	w.stale = map[string]bool{}
	for _, c := range []prometheus.Collector{w.rows, w.batchSizes, w.failures} {
		if err := deps.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("register writer metrics: %w", err)
		}
	}
	return w, nil
}

// Group is the consumer group the writer reads in.
func (w *Writer) Group() string { return w.cfg.Group }

// Run consumes until ctx ends. Every topic is read in one consumer group:
// the topics end in the same store, so an outage of it stalls them all
// alike and separate groups would buy nothing, while one group keeps a
// single lag to watch and, on Kafka, members that agree on what they
// subscribe to. The writer is Config.Members members of that group, each
// its own Consume, so that one member's batch is decoded and inserted
// while the store still inserts another's: a store insert mostly waits on
// the server, and one member at a time leaves the writer idle for that
// wait. A bus shares records among members by key, so each task's records
// still go through one member in order. A batch in hand when ctx ends is
// still inserted and committed (bounded by DrainTimeout), so a graceful
// stop leaves nothing to redeliver. Beside them the store's snapshots are
// refreshed, when it keeps any.
func (w *Writer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	if w.refresher != nil {
		wg.Go(func() { w.refreshLoop(ctx) })
	}
	for range w.cfg.Members - 1 {
		wg.Go(func() { w.consume(ctx) })
	}
	w.consume(ctx)
	return nil
}

// consume runs one member of the writer's group until ctx ends,
// consuming again after every failure.
func (w *Writer) consume(ctx context.Context) {
	opts := bus.ConsumeOptions{MaxBatch: w.cfg.BatchSize, MaxWait: w.cfg.BatchWait}
	policy := backoff.Policy{Min: w.cfg.RetryMin, Max: w.cfg.RetryMax, ResetAfter: w.cfg.RetryMax,
		OnRetry: func(err error, wait time.Duration) {
			w.log.Error("consume stopped; restarting", "err", err, "backoff", wait)
		}}
	_ = backoff.Retry(ctx, policy, func(ctx context.Context) error {
		err := w.bus.Consume(ctx, w.cfg.Group, topics, opts, w.Handle)
		if ctx.Err() != nil {
			return nil
		}
		return cmp.Or(err, errConsumeReturned)
	})
}

// errConsumeReturned is a Consume that ended while its context had not:
// the writer consumes again, as after a failure.
var errConsumeReturned = errors.New("consume returned before the writer stopped")

// Handle stores one batch. It returns nil only once every record is in the
// store or in the dead-letter topic; until then it retries, so the bus
// never commits a record that is not stored. A batch may mix topics; each
// topic's records go to the store in one insert. The members of Run call
// it at once.
func (w *Writer) Handle(ctx context.Context, batch []bus.Record) error {
	var (
		events  []schema.Progress
		logs    []schema.Log
		samples []schema.Metric
		poison  []bus.Record
	)
	for _, rec := range batch {
		var err error
		switch rec.Topic {
		case schema.TopicLogs:
			var l schema.Log
			if l, err = schema.DecodeLog(rec.Value); err == nil {
				logs = append(logs, l)
			}
		case schema.TopicMetrics:
			var m schema.Metric
			if m, err = schema.DecodeMetric(rec.Value); err == nil {
				samples = append(samples, m)
			}
		case schema.TopicProgress:
			var p schema.Progress
			if p, err = schema.DecodeProgress(rec.Value); err == nil {
				events = append(events, p)
			}
		default:
			err = fmt.Errorf("no store for topic %q", rec.Topic)
		}
		if err != nil {
			poison = append(poison, deadLetter(rec, err))
		}
	}
	// Once a batch is in hand it is finished even if ctx ends, so that a
	// graceful shutdown drains it instead of leaving it to redelivery.
	drain, cancel := drainContext(ctx, w.cfg.DrainTimeout)
	defer cancel()
	if len(poison) > 0 {
		if err := w.retry(drain, "publish dead letters", func(ctx context.Context) error {
			return w.bus.Publish(ctx, poison...)
		}); err != nil {
			return err
		}
		for _, p := range poison {
			w.rows.WithLabelValues(p.Headers["original_topic"], "deadletter").Inc()
		}
		w.log.Warn("records sent to the dead-letter topic", "count", len(poison), "first_reason", poison[0].Headers["reason"])
	}
	if err := insert(w, drain, batch, schema.TopicProgress, events, w.store.InsertProgress); err != nil {
		return err
	}
	w.noteTenants(events)
	if err := insert(w, drain, batch, schema.TopicLogs, logs, w.store.InsertLogs); err != nil {
		return err
	}
	return insert(w, drain, batch, schema.TopicMetrics, samples, w.store.InsertMetrics)
}

// noteTenants marks the tenants of stored events for the next refresh.
func (w *Writer) noteTenants(events []schema.Progress) {
	if w.refresher == nil || len(events) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	last := ""
	for i := range events {
		if t := events[i].Tenant; t != last {
			w.stale[t], last = true, t
		}
	}
}

// refreshLoop refreshes the snapshots of the tenants stored since the last
// round every RefreshEvery until ctx ends. A tenant whose refresh failed
// waits for the next round; its reads stay right meanwhile, only slower.
func (w *Writer) refreshLoop(ctx context.Context) {
	tick := time.NewTicker(w.cfg.RefreshEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		w.mu.Lock()
		tenants := w.stale
		w.stale = map[string]bool{}
		w.mu.Unlock()
		for tenant := range tenants {
			if err := w.refresher.RefreshTaskSnapshots(ctx, tenant); err != nil {
				if ctx.Err() != nil {
					return
				}
				w.log.Warn("refresh task snapshots failed; retrying next round", "tenant", tenant, "err", err)
				w.mu.Lock()
				w.stale[tenant] = true
				w.mu.Unlock()
			}
		}
	}
}

// insert stores the records of one topic, decoded from batch, retrying
// until it succeeds. The insert is a span, linked to the spans that
// published its records.
func insert[T any](w *Writer, ctx context.Context, batch []bus.Record, topic string, recs []T, f func(context.Context, []T) error) error {
	if len(recs) == 0 {
		return nil
	}
	ctx, span := w.tracer.Start(ctx, "writer.store", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("topic", topic), attribute.Int("rows", len(recs))))
	defer span.End()
	if span.IsRecording() {
		linkPublishers(span, batch, topic)
	}
	if err := w.retry(ctx, "insert "+topic+" batch", func(ctx context.Context) error {
		return f(ctx, recs)
	}); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "insert failed")
		return err
	}
	w.batchSizes.Observe(float64(len(recs)))
	w.rows.WithLabelValues(topic, "stored").Add(float64(len(recs)))
	return nil
}

// MaxLinks caps the links of one insert's span: a batch of thousands of
// records would otherwise make a span too large to export, while the first
// hundred publishers are enough to follow a trace from.
const MaxLinks = 128

// linkPublishers links span to the spans that published the records of
// topic in batch, up to MaxLinks of them. The records of one request share
// its span and usually sit together, so a record with the same trace
// context as the one before it adds no link.
func linkPublishers(span trace.Span, batch []bus.Record, topic string) {
	var last string
	links := 0
	for i := range batch {
		rec := &batch[i]
		tp := rec.Headers[telemetry.HeaderTraceparent]
		if rec.Topic != topic || tp == "" || tp == last {
			continue
		}
		last = tp
		if sc := telemetry.HeadersSpanContext(rec.Headers); sc.IsValid() {
			span.AddLink(trace.Link{SpanContext: sc})
			if links++; links == MaxLinks {
				return
			}
		}
	}
}

// retry calls f until it succeeds or ctx ends, backing off exponentially
// with jitter, so a store outage pauses the writer instead of losing data.
func (w *Writer) retry(ctx context.Context, what string, f func(context.Context) error) error {
	policy := backoff.Policy{Min: w.cfg.RetryMin, Max: w.cfg.RetryMax, OnRetry: func(err error, wait time.Duration) {
		w.failures.Inc()
		w.log.Warn(what+" failed; retrying", "err", err, "backoff", wait)
	}}
	if err := backoff.Retry(ctx, policy, f); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// deadLetter wraps a record that cannot be stored with why, and where it
// came from, for the dead-letter topic.
func deadLetter(rec bus.Record, reason error) bus.Record {
	h := map[string]string{
		"reason":             reason.Error(),
		"original_topic":     rec.Topic,
		"original_partition": strconv.Itoa(rec.Partition),
		"original_offset":    strconv.FormatInt(rec.Offset, 10),
	}
	return bus.Record{Topic: schema.TopicDeadLetter, Key: rec.Key, Value: rec.Value, Headers: h}
}

// drainContext keeps ctx's values but not its cancellation: the work it
// guards ends after ctx ends, within timeout.
func drainContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	drain, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(timeout, cancel)
		context.AfterFunc(drain, func() { t.Stop() })
	})
	return drain, func() { stop(); cancel() }
}
