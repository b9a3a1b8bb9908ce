// Package app is TaskPulse's composition root: it opens the bus and store
// the chosen services need, builds each service from the table in
// services.go, mounts them on one HTTP server behind the shared
// middleware, and stops them in the order that loses nothing.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/sync/errgroup"

	"github.com/taskpulse/taskpulse/internal/apidoc"
	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/backend"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/ratelimit"
	"github.com/taskpulse/taskpulse/internal/telemetry"
	"github.com/taskpulse/taskpulse/web"
)

// Option changes how Run serves.
type Option func(*options)

type options struct {
	onApp func(*fiber.App)
}

// WithApp hands f the server's app once its middleware is in place;
// every route is mounted by the time the server answers, so a test can
// compare the routes served with the OpenAPI document.
func WithApp(f func(*fiber.App)) Option {
	return func(o *options) { o.onApp = f }
}

// Serve listens where s says and runs until ctx ends.
func Serve(ctx context.Context, s *Settings) error {
	log := NewLogger(s.logLevel, s.logFormat)
	ln, err := net.Listen("tcp", s.listen)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("cannot listen on %s: another process is using that address; stop it, or give another with --listen (such as --listen 127.0.0.1:8081)", s.listen)
	}
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", s.listen, err)
	}
	return Run(ctx, s, ln, log)
}

// Run runs the chosen services on ln until ctx ends, then stops them in
// the order that loses nothing: HTTP first (finishing requests in flight,
// so every 202 is on the bus), then the writer (finishing its batch), then
// the bus and store.
func Run(ctx context.Context, s *Settings, ln net.Listener, log *slog.Logger, opts ...Option) error {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	reg := telemetry.NewRegistry()
	tracing, err := telemetry.NewTracing(ctx, s.tracing(), log)
	if err != nil {
		ln.Close()
		return err
	}
	defer tracing.Shutdown(s.shutdownGrace)
	if s.pprofAddr != "" {
		stopPprof, err := servePprof(s.pprofAddr, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopPprof()
	}

	var chosen []service
	var needBus, needStore bool
	for _, svc := range services {
		if s.runs(svc.name) {
			chosen = append(chosen, svc)
			needBus, needStore = needBus || svc.bus, needStore || svc.store
		}
	}
	if s.backend.Local(needBus, needStore) && len(s.services) < len(allServices) {
		log.Warn("running some services on an embedded bus or store: no other process can share them")
	}
	be, err := backend.Open(ctx, &s.backend, backend.Options{
		DataDir: s.dataDir, Bus: needBus, Store: needStore, Topics: allTopics(), Logger: log, Registerer: reg,
		// The writer owns the store's writes, so it keeps its retention.
		Retain: s.runs("writer"),
	})
	if err != nil {
		ln.Close()
		return err
	}
	defer func() {
		if err := be.Close(); err != nil {
			log.Error("close backends", "err", err)
		}
	}()
	checks := map[string]telemetry.Check{}
	if be.Store != nil {
		checks["store"] = be.Store.Ping
	}

	app := fiber.New(fiber.Config{
		ErrorHandler: httpx.ErrorHandler,
		// Answers end with a newline, as terminals and line tools expect.
		JSONEncoder: httpx.EncodeJSON,
		// The server reads a few KiB of a body before the handlers run;
		// httpx.ReadBody reads the rest, bounded, once the key is checked.
		StreamRequestBody:     true,
		BodyLimit:             s.bodyLimit,
		DisableStartupMessage: true,
		ReadTimeout:           time.Minute,
		IdleTimeout:           2 * time.Minute,
		// Room for a request line and headers (4 KiB by default): a query
		// parameter at its 4226-byte limit, or a WebSocket connect request
		// naming dozens of subscriptions. A WebSocket connection holds this
		// buffer for its whole life, so it stays small.
		ReadBufferSize: 8 << 10,
		// A body is read by the route that takes it, as JSON, NDJSON,
		// Prometheus text or protobuf; a form is a 415 there, not parsed
		// before.
		DisablePreParseMultipartForm: true,
	})
	app.Use(telemetry.RequestMetrics(reg, app), httpx.Origins{Allowed: s.allowedOrigins, LoopbackHost: len(s.keys) == 0}.Middleware())
	telemetry.Routes(app, reg, checks)
	apidoc.Routes(app)
	for _, svc := range chosen {
		if svc.public != nil {
			svc.public(app)
		}
	}
	if o.onApp != nil {
		o.onApp(app)
	}

	limits, err := ratelimit.New(s.limits, ratelimit.Deps{Registerer: reg})
	if err != nil {
		return err
	}
	d := &deps{s: s, bus: be.Bus, store: be.Store, limits: limits, reg: reg, log: log, tracing: tracing}
	api := app.Group("", s.keys.Middleware(auth.WithGuard(limits.AuthGuard())), httpx.ReadBody(s.bodyLimit), httpx.ValidQuery)
	var background, drained []unit
	mount := func(queries bool, r fiber.Router) error {
		for _, svc := range chosen {
			if svc.queries != queries {
				continue
			}
			u, err := svc.start(d)
			if err != nil {
				return err
			}
			if u.routes != nil {
				u.routes(r)
			}
			if u.ready != nil {
				checks[svc.name] = u.ready
			}
			switch {
			case svc.drain:
				drained = append(drained, u)
			case u.run != nil:
				background = append(background, u)
			}
		}
		return nil
	}
	if err := mount(false, api); err != nil {
		return err
	}
	// Every route mounted from here on is a query of some kind.
	if err := mount(true, api.Group("", limits.Queries())); err != nil {
		return err
	}
	// After every route of this process's own, which answer first.
	web.ProxyRoutes(api, s.uiUpstreams())
	app.Use(func(c *fiber.Ctx) error {
		return httpx.NewError(fiber.StatusNotFound, httpx.CodeNotFound, "no route "+c.Method()+" "+c.Path())
	})

	log.Info("taskpulse serving", "listen", "http://"+ln.Addr().String(), "services", s.services, "bus", be.BusName, "store", be.StoreName)
	if len(s.keys) == 0 {
		log.Warn("no API keys configured: every request is tenant \"" + "default" + "\"; listening on loopback only")
	}

	// Services run under their own context, cancelled only once HTTP has
	// stopped, so that requests in flight can still publish.
	svcCtx, stopServices := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServices()
	g, gctx := errgroup.WithContext(svcCtx)
	for _, u := range background {
		g.Go(func() error { return u.run(gctx) })
	}
	// Drained services run outside the group: their failure shows at the
	// stop rather than stopping the others.
	drainedDone := make(chan error, len(drained))
	for _, u := range drained {
		go func() { drainedDone <- u.run(svcCtx) }()
	}
	g.Go(func() error { return app.Listener(httpx.LingeringListener(ln, lingerTime, lingerBytes)) })

	select {
	case <-ctx.Done():
		log.Info("stopping: finishing requests in flight")
	case <-gctx.Done():
	}
	shutdownErr := app.ShutdownWithTimeout(s.shutdownGrace)
	for _, u := range drained {
		waitDrained(be.Bus, u.group, s.shutdownGrace, log)
	}
	stopServices()
	log.Info("stopping: draining the writer")
	var drainErrs []error
	for range drained {
		drainErrs = append(drainErrs, <-drainedDone)
	}
	runErr := g.Wait()
	if errors.Is(runErr, context.Canceled) {
		runErr = nil
	}
	log.Info("stopped")
	return errors.Join(runErr, errors.Join(drainErrs...), shutdownErr)
}

// lagger is a bus that can tell how far a consumer group trails, as the
// embedded bus can.
type lagger interface {
	Lag(group string) int64
}

// waitDrained lets the writer catch up with the bus before it stops, so
// that an all-in-one stop leaves every accepted event in the store rather
// than waiting on the bus for the next start. Buses shared with other
// processes (Kafka) keep the rest for the next writer instead.
func waitDrained(b any, group string, grace time.Duration, log *slog.Logger) {
	l, ok := b.(lagger)
	if !ok {
		return
	}
	deadline := time.Now().Add(grace)
	for l.Lag(group) > 0 {
		if time.Now().After(deadline) {
			log.Warn("stopping with events still on the bus; they are stored at the next start", "lag_bytes", l.Lag(group))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lingerTime is how long a closed connection goes on reading what its
// client still sends, so that the client reads the answer before a reset.
// It costs the server reading, never memory.
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 64 << 20
)

// NewLogger logs to stderr at level ("debug", "info", ...; info when not
// one), as JSON when format is "json", else as text.
func NewLogger(level, format string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// Version is the module version the binary was built from.
func Version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}
