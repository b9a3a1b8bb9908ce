package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskpulse/taskpulse/ingest/otlp"
	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/telemetry"
	"github.com/taskpulse/taskpulse/schema"
)

// Publisher is the part of the bus ingest needs. Once Publish has
// returned nil it keeps nothing of recs, as neither bus does (the embedded
// one copies them into its log, Kafka's has written them): ingest reuses
// the memory of their keys and values for later requests.
type Publisher interface {
	Publish(ctx context.Context, recs ...bus.Record) error
}

// Limiter caps what one tenant may ingest. AllowIngest takes a request of
// events and body bytes from the tenant's allowance, or takes nothing and
// says how long until the request would fit.
type Limiter interface {
	AllowIngest(tenant string, events, bytes int) (retryAfter time.Duration, ok bool)
}

// Config tunes the HTTP ingest.
type Config struct {
	// PublishTimeout bounds one bus write; past it the request gets 503.
	PublishTimeout time.Duration
	// RetryAfter is what a 503 asks the client to wait, in seconds.
	RetryAfter int
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	if c.PublishTimeout <= 0 {
		return errors.New("ingest: publish timeout must be positive")
	}
	if c.RetryAfter <= 0 {
		return errors.New("ingest: retry-after must be positive")
	}
	return nil
}

// Deps are what the HTTP ingest talks to.
type Deps struct {
	Bus        Publisher
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// TracerProvider makes a span of every request; none: a no-op one.
	TracerProvider trace.TracerProvider
	// Limiter refuses requests over their tenant's rate; none: no limit.
	Limiter Limiter
	// Control tells the answer to a worker's progress report what is
	// asked of its tasks; none: nothing is.
	Control Controls
}

// Controls are the control requests pending for tasks (see package
// control). Waiting runs on every progress request, so it must cost next
// to nothing; Deliveries runs only while it says some request waits.
type Controls interface {
	Waiting() bool
	Deliveries(dst []control.Delivery, tenant string, n int, task func(i int) (string, schema.Status)) []control.Delivery
}

// Service is the HTTP ingest.
type Service struct {
	cfg    Config
	bus    Publisher
	limits Limiter
	ctl    Controls
	log    *slog.Logger
	tracer trace.Tracer
	events *prometheus.CounterVec
	now    func() time.Time
	order  atomic.Int64

	progress *signal[schema.Progress]
	logs     *signal[schema.Log]
	metrics  *signal[schema.Metric]
}

// New makes the HTTP ingest; Routes mounts it.
func New(cfg Config, deps Deps) (*Service, error) {
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = 10 * time.Second
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = 5
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Bus == nil {
		panic("BUG: ingest.New without a bus")
	}
	deps.Logger, deps.Registerer, deps.TracerProvider = telemetry.Defaults(deps.Logger, deps.Registerer, deps.TracerProvider)
	s := &Service{
		cfg:    cfg,
		bus:    deps.Bus,
		limits: deps.Limiter,
		ctl:    deps.Control,
		log:    deps.Logger.With("component", "ingest"),
		tracer: deps.TracerProvider.Tracer(tracerName),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskpulse_ingest_events_total",
			Help: "Events received over HTTP, by signal and outcome (accepted, rejected, unavailable, rate_limited).",
		}, []string{"signal", "outcome"}),
		now: time.Now,
	}
	if err := deps.Registerer.Register(s.events); err != nil {
		return nil, fmt.Errorf("register ingest metrics: %w", err)
	}
	s.progress = progressSignal(s.events)
	s.logs = logSignal(s.events)
	s.metrics = metricSignal(s.events)
	return s, nil
}

// Routes mounts the ingest endpoints on r, which must already run
// auth.Middleware. /v1/logs and /v1/metrics also take OTLP/HTTP exports,
// as they are OTLP's default paths (otlpOr).
func (s *Service) Routes(r fiber.Router) {
	s.post(r, "/v1/progress", eventIDsQuery, s.postProgress)
	s.post(r, "/v1/logs", eventIDsQuery, otlpOr(otlp.LogsKey, s.postOTLPLogs, s.postLogs))
	s.post(r, "/v1/metrics", eventIDsQuery, otlpOr(otlp.MetricsKey, s.postOTLPMetrics, s.postMetrics))
	s.post(r, "/v1/otlp/logs", noQuery, s.postOTLPLogs)
	s.post(r, "/v1/otlp/metrics", noQuery, s.postOTLPMetrics)
}

// post mounts a POST route whose requests each run in a span, a child of
// the client's traceparent when it sends one. The route's handler finds
// the span in c.UserContext(), and its records carry it onto the bus.
// query checks the request's query parameters before the body is read.
func (s *Service) post(r fiber.Router, route string, query, h fiber.Handler) {
	r.Post(route, telemetry.ServerSpan(s.tracer, fiber.MethodPost, route), query, h)
}

// noQuery refuses query parameters on the OTLP routes: they take
// everything from the body, and a parameter ignored silently would mislead
// its sender.
func noQuery(c *fiber.Ctx) error {
	if err := httpx.OnlyQuery(c); err != nil {
		return err
	}
	return c.Next()
}

// tracerName is the instrumentation scope of the ingest's and the
// writer's spans.
const tracerName = "github.com/taskpulse/taskpulse/ingest"

func (s *Service) postProgress(c *fiber.Ctx) error {
	format, err := bodyFormat(c.Get(fiber.HeaderContentType))
	if err != nil {
		return httpx.NewError(fiber.StatusUnsupportedMediaType, httpx.CodeUnsupportedMedia,
			"Content-Type must be application/json (an object or an array) or application/x-ndjson")
	}
	now := s.now()
	events, problems, err := s.decodeBody(format, c.Body(), now.UnixMilli())
	if err != nil {
		return s.progress.unreadable(err)
	}
	if len(problems) > 0 {
		return s.progress.invalid(len(events), problems)
	}
	if err := publish(c, s, s.progress, events, now); err != nil {
		return err
	}
	if s.ctl != nil && s.ctl.Waiting() {
		asked := s.ctl.Deliveries(nil, auth.Tenant(c), len(events), func(i int) (string, schema.Status) {
			return events[i].TaskID, events[i].Status
		})
		if len(asked) > 0 {
			return acceptedWith(c, s.progress, events, asked)
		}
	}
	return accepted(c, s.progress, events)
}

// progressSignal stamps and encodes progress events. An event is keyed by
// its task, so that a task's events stay in order on one partition.
func progressSignal(events *prometheus.CounterVec) *signal[schema.Progress] {
	return &signal[schema.Progress]{
		topic:    schema.TopicProgress,
		outcomes: newOutcomes(events, schema.TopicProgress),
		fields: func(p *schema.Progress) stampFields {
			return stampFields{&p.Tenant, &p.EventID, &p.Timestamp, &p.IngestOrder}
		},
		encode: func(buf *recordBuffer, p *schema.Progress) (key, value []byte, err error) {
			key = buf.key(p.TaskID)
			start := len(buf.b)
			if buf.b, err = schema.AppendProgress(buf.b, p); err != nil {
				return nil, nil, fmt.Errorf("encode progress: %w", err)
			}
			return key, buf.since(start), nil
		},
	}
}

// limit refuses, with 429, a request over its tenant's ingest rate, and
// counts its events as rate_limited. Bytes are the body's after decoding,
// what publishing and storing it costs.
func (s *Service) limit(c *fiber.Ctx, signal string, events int) error {
	if s.limits == nil {
		return nil
	}
	wait, ok := s.limits.AllowIngest(auth.Tenant(c), events, len(c.Body()))
	if ok {
		return nil
	}
	s.events.WithLabelValues(signal, "rate_limited").Add(float64(events))
	return &httpx.Error{
		Status:     fiber.StatusTooManyRequests,
		Code:       httpx.CodeRateLimited,
		Message:    "the tenant is over its ingest rate; nothing was accepted, retry later",
		RetryAfter: max(1, int((wait+time.Second-1)/time.Second)),
	}
}

// decodeBody decodes and validates a request body. It returns an error
// when the body is not JSON at all, and otherwise every problem of every
// item. Almost every body takes decodeFast; the rest, bad ones mostly, go
// through splitItems and decodeAll, which word the errors.
func (s *Service) decodeBody(format string, body []byte, now int64) ([]schema.Progress, []schema.FieldError, error) {
	events, ok := decodeFast(format, body)
	if !ok {
		items, err := splitItems(format, body)
		if err != nil {
			return nil, nil, err
		}
		events, problems := s.decodeAll(items, now)
		return events, problems, nil
	}
	var problems []schema.FieldError
	for i := range events {
		problems = appendProblems(problems, i, events[i].Validate(now))
	}
	return events, problems, nil
}

// decodeAll decodes and validates every item, collecting every problem.
func (s *Service) decodeAll(items [][]byte, now int64) ([]schema.Progress, []schema.FieldError) {
	events := make([]schema.Progress, len(items))
	var problems []schema.FieldError
	for i, item := range items {
		p, errs := decodeProgress(i, item)
		if decoded(errs) {
			errs = appendProblems(errs, i, p.Validate(now))
		}
		problems = append(problems, errs...)
		events[i] = p
	}
	return events, problems
}

// appendProblems adds the problems of item i.
func appendProblems(problems []schema.FieldError, i int, errs []schema.FieldError) []schema.FieldError {
	for _, e := range errs {
		e.Index = i
		problems = append(problems, e)
	}
	return problems
}

func badJSON(err error) error {
	var fe schema.FieldError
	if !errors.As(err, &fe) {
		fe = schema.FieldError{Field: "body", Reason: err.Error()}
	}
	return &httpx.Error{
		Status:  fiber.StatusBadRequest,
		Code:    httpx.CodeInvalidJSON,
		Message: fe.Error() + "; nothing was accepted",
		Details: []schema.FieldError{fe},
	}
}

func countItems(problems []schema.FieldError) int {
	seen := map[int]bool{}
	for _, p := range problems {
		seen[p.Index] = true
	}
	return len(seen)
}
