package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskpulse/taskpulse/alerting"
	"github.com/taskpulse/taskpulse/eta"
	"github.com/taskpulse/taskpulse/ingest"
	"github.com/taskpulse/taskpulse/ingest/writer"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/internal/ratelimit"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/telemetry"
	"github.com/taskpulse/taskpulse/query"
	"github.com/taskpulse/taskpulse/schema"
	"github.com/taskpulse/taskpulse/stream"
	"github.com/taskpulse/taskpulse/tasks"
	"github.com/taskpulse/taskpulse/web"
)

// service is one entry of the table --services chooses from: what the
// service needs and how the server mounts it.
type service struct {
	name string
	// bus and store say which backends it uses; a process opens only
	// those its services use.
	bus, store bool
	// topics are those it reads or writes.
	topics []string
	// public mounts routes before the key check.
	public func(fiber.Router)
	// queries puts its routes behind the query rate limits. Ingest has its
	// own limits, by events and bytes.
	queries bool
	// drain runs it apart from the others and stops it after HTTP, once
	// it has caught up with the bus, so that every accepted event is
	// stored.
	drain bool
	start func(*deps) (unit, error)
}

// deps are what a service is built from.
type deps struct {
	s       *Settings
	bus     bus.Bus
	store   store.Store
	limits  *ratelimit.Limits
	reg     prometheus.Registerer
	log     *slog.Logger
	tracing trace.TracerProvider
	eta     *eta.Tracker // made by the first service that asks
	control *control.Registry
}

// etaTracker returns the process's one ETA tracker, which every service
// that renders tasks shares, and the function that runs it to the first
// caller only.
func (d *deps) etaTracker() (*eta.Tracker, func(context.Context) error) {
	if d.eta != nil {
		return d.eta, nil
	}
	d.eta = eta.NewTracker(eta.Config{}, d.bus, d.store, d.log)
	return d.eta, d.eta.Run
}

// controlRegistry returns the process's one registry of control
// requests, which every service that shows or delivers them shares, and
// the function that runs it to the first caller only. A process without a
// store learns the requests made after it starts.
func (d *deps) controlRegistry() (*control.Registry, func(context.Context) error) {
	if d.control != nil {
		return d.control, nil
	}
	var docs control.Documents
	if d.store != nil {
		docs = d.store
	}
	d.control = control.NewRegistry(d.bus, docs, d.log)
	return d.control, d.control.Run
}

// both runs a and b, either of which may be nil, until both return.
func both(a, b func(context.Context) error) func(context.Context) error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return func(ctx context.Context) error {
		errs := make(chan error, 1)
		go func() { errs <- b(ctx) }()
		err := a(ctx)
		return errors.Join(err, <-errs)
	}
}

// allReady is the check that passes when every one of checks does.
func allReady(checks ...telemetry.Check) telemetry.Check {
	return func(ctx context.Context) error {
		for _, check := range checks {
			if err := check(ctx); err != nil {
				return err
			}
		}
		return nil
	}
}

// unit is a built service: its routes, what runs it, its readiness check
// and, for a drained one, the consumer group whose lag it waits out.
type unit struct {
	routes func(fiber.Router)
	run    func(context.Context) error
	ready  telemetry.Check
	group  string
}

// services are mounted in this order within the public routes, then the
// routes without query limits, then those with them.
var services = []service{
	{
		name: "ingest", bus: true,
		topics: []string{schema.TopicProgress, schema.TopicLogs, schema.TopicMetrics, control.TopicControl},
		start: func(d *deps) (unit, error) {
			controls, run := d.controlRegistry()
			svc, err := ingest.New(ingest.Config{}, ingest.Deps{Bus: d.bus, Limiter: d.limits, Registerer: d.reg, Logger: d.log, TracerProvider: d.tracing, Control: controls})
			if err != nil {
				return unit{}, err
			}
			return unit{routes: svc.Routes, run: run, ready: controls.Ready}, nil
		},
	},
	{
		// The task API's operations are events, limited as ingest's are.
		name: "tasks", bus: true, store: true,
		topics: []string{schema.TopicProgress, control.TopicControl},
		start: func(d *deps) (unit, error) {
			controls, run := d.controlRegistry()
			deps := tasks.Deps{Bus: d.bus, Store: d.store, Limiter: d.limits, Registerer: d.reg, Logger: d.log, TracerProvider: d.tracing, Control: controls}
			if l, ok := d.bus.(lagger); ok && d.s.runs("writer") {
				// An embedded bus is this process's alone: once its writer
				// has caught up, the store holds every task there is.
				deps.Settled = func() bool { return l.Lag(writer.DefaultGroup) == 0 }
			}
			svc, err := tasks.New(tasks.Config{}, deps)
			if err != nil {
				return unit{}, err
			}
			return unit{routes: svc.Routes, run: run, ready: controls.Ready}, nil
		},
	},
	{
		name: "writer", bus: true, store: true, drain: true,
		topics: []string{schema.TopicProgress, schema.TopicLogs, schema.TopicMetrics, schema.TopicDeadLetter},
		start: func(d *deps) (unit, error) {
			w, err := writer.New(writer.Config{BatchSize: d.s.writerBatch, BatchWait: d.s.writerWait},
				writer.Deps{Bus: d.bus, Store: d.store, Registerer: d.reg, Logger: d.log, TracerProvider: d.tracing})
			if err != nil {
				return unit{}, err
			}
			return unit{run: w.Run, group: w.Group()}, nil
		},
	},
	{
		// The bus feeds the ETA history with the tasks that complete.
		name: "query", bus: true, store: true, queries: true,
		topics: []string{schema.TopicProgress, control.TopicControl},
		start: func(d *deps) (unit, error) {
			tracker, runETA := d.etaTracker()
			controls, runControl := d.controlRegistry()
			run := both(runETA, runControl)
			q := query.New(query.Deps{Store: d.store, ETA: tracker, Control: controls, Logger: d.log})
			routes := func(r fiber.Router) {
				q.Routes(r)
				alias(r, q.Routes, "/v1/tasks", "/api/v1/progress/tasks")
				alias(r, q.Routes, "/v1/tasks/:id", "/api/v1/progress/tasks/:id")
			}
			return unit{routes: routes, run: run, ready: controls.Ready}, nil
		},
	},
	{
		name: "stream", bus: true, store: true, queries: true,
		topics: []string{schema.TopicProgress, schema.TopicLogs, schema.TopicNotifications, control.TopicControl},
		public: web.Routes, // the page holds no data
		start: func(d *deps) (unit, error) {
			controls, runControl := d.controlRegistry()
			tracker, runETA := d.etaTracker()
			svc, err := stream.New(stream.Config{QueueSize: d.s.streamQueue}, stream.Deps{Bus: d.bus, Store: d.store, Registerer: d.reg, Logger: d.log, Control: controls, ETA: tracker})
			if err != nil {
				return unit{}, err
			}
			routes := func(r fiber.Router) {
				svc.Routes(r)
				alias(r, svc.Routes, "/v1/stream", stream.LegacyPath, stream.LegacyConnect)
			}
			return unit{routes: routes, run: both(svc.Run, both(runControl, runETA)), ready: allReady(svc.Ready, controls.Ready)}, nil
		},
	},
	{
		name: "alerting", bus: true, store: true, queries: true,
		topics: []string{schema.TopicProgress, schema.TopicNotifications, control.TopicControl},
		start:  startAlerting,
	},
}

// alias mounts at path, behind before, the handlers mount puts on the
// GET route native, so that the read routes of the platform's former
// progress module (/api/v1/progress/...) run the very code of the native
// routes they stand for. A router cannot give a route's handlers back, so
// they are taken from a throwaway app that mount is run on.
func alias(r fiber.Router, mount func(fiber.Router), native, path string, before ...fiber.Handler) {
	probe := fiber.New()
	mount(probe)
	for _, rt := range probe.GetRoutes(true) {
		if rt.Method == fiber.MethodGet && rt.Path == native {
			r.Get(path, append(before, rt.Handlers...)...)
			return
		}
	}
	panic("BUG: no route GET " + native + " to alias")
}

// allServices are the names --services takes, "all" aside.
var allServices = func() []string {
	names := make([]string, len(services))
	for i, svc := range services {
		names[i] = svc.name
	}
	return names
}()

// ServiceNames returns the names --services takes, "all" aside, so that
// deployment files can be checked against them.
func ServiceNames() []string { return slices.Clone(allServices) }

// allTopics are every service's topics. Every process creates them all on
// Kafka, whichever services it runs, so that the first to start leaves the
// cluster complete.
func allTopics() []string {
	var topics []string
	for _, svc := range services {
		for _, t := range svc.topics {
			if !slices.Contains(topics, t) {
				topics = append(topics, t)
			}
		}
	}
	return topics
}

// startAlerting builds alerting, whose run also reloads the rules file on
// SIGHUP.
func startAlerting(d *deps) (unit, error) {
	s := d.s
	controls, runControl := d.controlRegistry()
	deps := alerting.Deps{Bus: d.bus, Documents: d.store, Tasks: d.store, Series: d.store, Logs: d.store, Registerer: d.reg, Logger: d.log, Control: controls}
	cfg := alerting.Config{RulesFile: s.alertRules, ChannelAllow: s.alertChannelAllow, ChannelDeny: s.alertChannelDeny}
	svc, err := alerting.New(cfg, deps)
	if err != nil {
		return unit{}, err
	}
	run := func(ctx context.Context) error {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					// A refused file is logged by Reload; the rules
					// loaded before keep running.
					_ = svc.Reload()
				}
			}
		}()
		return svc.Run(ctx)
	}
	return unit{routes: svc.Routes, run: both(run, runControl), ready: allReady(svc.Ready, controls.Ready)}, nil
}
