package tasks

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/telemetry"
	"github.com/taskpulse/taskpulse/schema"
)

// Publisher is the part of the bus the task API needs.
type Publisher interface {
	Publish(ctx context.Context, recs ...bus.Record) error
}

// Reader is the part of the store the task API needs: current states to
// check changes against, a task's first event to answer a retried
// create, and the documents that keep control requests.
type Reader interface {
	Tasks(ctx context.Context, f store.TaskFilter) ([]store.Task, error)
	TaskEvents(ctx context.Context, tenant, taskID string, f store.EventFilter) ([]schema.Progress, error)
	PutDocuments(ctx context.Context, docs ...store.Document) error
}

// Limiter caps what one tenant may ingest; task operations are events and
// take from the same allowance as ingest's.
type Limiter interface {
	AllowIngest(tenant string, events, bytes int) (retryAfter time.Duration, ok bool)
}

// Config tunes the task API. Zero values take the defaults.
type Config struct {
	// PublishTimeout bounds one bus write; past it the request gets 503.
	PublishTimeout time.Duration
	// RetryAfter is what a 503 asks the client to wait, in seconds.
	RetryAfter int
	// ViewSize bounds the tasks whose published state is remembered.
	ViewSize int
	// NotFoundWait is how long a task that neither the view nor the store
	// knows is looked for in the store before the answer is 404.
	NotFoundWait time.Duration
	// MaxPolls bounds the long polls for control requests one tenant may
	// hold open at once.
	MaxPolls int
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.PublishTimeout <= 0:
		return errors.New("tasks: publish timeout must be positive")
	case c.RetryAfter <= 0:
		return errors.New("tasks: retry-after must be positive")
	case c.ViewSize <= 0:
		return errors.New("tasks: view size must be positive")
	case c.NotFoundWait < 0:
		return errors.New("tasks: not-found wait must not be negative")
	case c.MaxPolls <= 0:
		return errors.New("tasks: max polls must be positive")
	}
	return nil
}

func (c *Config) fillDefaults() {
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 10 * time.Second
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = 5
	}
	if c.ViewSize == 0 {
		c.ViewSize = 100_000
	}
	if c.NotFoundWait == 0 {
		c.NotFoundWait = time.Second
	}
	if c.MaxPolls == 0 {
		c.MaxPolls = 100
	}
}

// Deps are what the task API talks to. Bus and Store are required.
type Deps struct {
	Bus        Publisher
	Store      Reader
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// TracerProvider makes a span of every request; none: a no-op one.
	TracerProvider trace.TracerProvider
	// Limiter refuses requests over their tenant's ingest rate; none: no
	// limit.
	Limiter Limiter
	// Settled reports whether the store holds every event published so
	// far, as an embedded bus whose writer has caught up can tell; a
	// task missing then is answered 404 at once. None: never known, so a
	// missing task is looked for until NotFoundWait has passed.
	Settled func() bool
	// Control holds the process's control requests, which it must run;
	// none: one the service keeps alone, which knows only its own.
	Control *control.Registry
}

// Service is the task API.
type Service struct {
	cfg     Config
	bus     Publisher
	store   Reader
	limits  Limiter
	settled func() bool
	log     *slog.Logger
	tracer  trace.Tracer
	outcome *prometheus.CounterVec
	now     func() time.Time
	order   atomic.Int64
	view    *view
	stripes stripes
	control *control.Registry
	polls   polls
}

// New makes the task API; Routes mounts it.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Bus == nil || deps.Store == nil {
		panic("BUG: tasks.New without a bus or a store")
	}
	deps.Logger, deps.Registerer, deps.TracerProvider = telemetry.Defaults(deps.Logger, deps.Registerer, deps.TracerProvider)
	s := &Service{
		cfg:     cfg,
		bus:     deps.Bus,
		store:   deps.Store,
		limits:  deps.Limiter,
		settled: deps.Settled,
		log:     deps.Logger.With("component", "tasks"),
		tracer:  deps.TracerProvider.Tracer("github.com/taskpulse/taskpulse/tasks"),
		outcome: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskpulse_task_operations_total",
			Help: "Task operations by kind (create, update, complete, ...) and the HTTP status each was answered with.",
		}, []string{"op", "code"}),
		now:     time.Now,
		view:    newView(cfg.ViewSize),
		stripes: stripes{seed: maphash.MakeSeed()},
		control: deps.Control,
		polls:   polls{max: cfg.MaxPolls, open: map[string]int{}},
	}
	if s.control == nil {
		s.control = control.NewRegistry(nil, nil, deps.Logger)
	}
	if err := deps.Registerer.Register(s.outcome); err != nil {
		return nil, fmt.Errorf("register task metrics: %w", err)
	}
	return s, nil
}

// route is one entry of the route table.
type route struct {
	method, path string
	handle       func(*Service, *fiber.Ctx) error
}

// routes are the task API's. GET /v1/tasks and GET /v1/tasks/:id are the
// query service's: a task reads the same whichever way it was written.
var routes = []route{
	{fiber.MethodPost, "/v1/tasks", single(opCreate)},
	{fiber.MethodPost, "/v1/tasks/batch", (*Service).batch},
	{fiber.MethodPatch, "/v1/tasks/:id", single(opUpdate)},
	{fiber.MethodPost, "/v1/tasks/:id/complete", single(opComplete)},
	{fiber.MethodPost, "/v1/tasks/:id/fail", single(opFail)},
	{fiber.MethodPost, "/v1/tasks/:id/cancel", asking(opCancel)},
	{fiber.MethodPost, "/v1/tasks/:id/pause", asking(opPause)},
	{fiber.MethodPost, "/v1/tasks/:id/resume", asking(opResume)},
	{fiber.MethodDelete, "/v1/tasks/:id", single(opDelete)},
	{fiber.MethodGet, "/v1/tasks/:id/control", (*Service).pollControl},
}

// Routes mounts the task API, and the write routes of the platform's
// progress module (legacy.go), on r, which must already run
// auth.Middleware and httpx.ReadBody.
func (s *Service) Routes(r fiber.Router) {
	for _, rt := range append(routes, legacyRoutes...) {
		handle := rt.handle
		r.Add(rt.method, rt.path, telemetry.ServerSpan(s.tracer, rt.method, rt.path),
			func(c *fiber.Ctx) error { return handle(s, c) })
	}
}
