package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/sync/errgroup"

	"github.com/taskpulse/taskpulse/ingest"
	"github.com/taskpulse/taskpulse/internal/apidoc"
	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/ratelimit"
	"github.com/taskpulse/taskpulse/internal/telemetry"
	"github.com/taskpulse/taskpulse/query"
	"github.com/taskpulse/taskpulse/stream"
	"github.com/taskpulse/taskpulse/web"
)

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var s settings
	s.register(fs)
	var b backendFlags
	b.register(fs)
	if err := s.parse(fs, args); err != nil {
		return err
	}
	if err := b.validate(); err != nil {
		return err
	}
	log := newLogger(s.logLevel, s.logFormat)
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return runServer(ctx, &s, &b, ln, log)
}

// runServer runs the chosen services on ln until ctx ends, then stops them
// in the order that loses nothing: HTTP first (finishing requests in
// flight, so every 202 is on the bus), then the writer (finishing its
// batch), then the bus and store.
func runServer(ctx context.Context, s *settings, b *backendFlags, ln net.Listener, log *slog.Logger) error {
	reg := telemetry.NewRegistry()
	tracing, err := telemetry.NewTracing(ctx, s.tracing(), log)
	if err != nil {
		ln.Close()
		return err
	}
	defer tracing.Shutdown(s.shutdownGrace)
	be, err := openBackends(ctx, s, b, reg, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer be.close(log)

	app := fiber.New(fiber.Config{
		ErrorHandler: httpx.ErrorHandler,
		// The server reads a few KiB of a body before the handlers run;
		// httpx.ReadBody reads the rest, bounded, once the key is checked.
		StreamRequestBody:     true,
		BodyLimit:             s.bodyLimit,
		DisableStartupMessage: true,
		ReadTimeout:           time.Minute,
		IdleTimeout:           2 * time.Minute,
		// Room for a WebSocket connect request naming its full hundred
		// subscriptions (4 KiB by default).
		ReadBufferSize: 32 << 10,
		// A body is read by the route that takes it, as JSON, NDJSON,
		// Prometheus text or protobuf; a form is a 415 there, not parsed
		// before.
		DisablePreParseMultipartForm: true,
	})
	app.Use(telemetry.RequestMetrics(reg, app), httpx.Origins{Allowed: s.allowedOrigins, LoopbackHost: len(s.keys) == 0}.Middleware())
	telemetry.Routes(app, reg, be.checks)
	apidoc.Routes(app)
	if s.runs(svcStream) {
		web.Routes(app) // public, before the key check: the page holds no data
	}
	exposeRoutes(app)

	limits, err := ratelimit.New(s.limits, ratelimit.Deps{Registerer: reg})
	if err != nil {
		return err
	}
	api := app.Group("", s.keys.Middleware(auth.WithGuard(limits.AuthGuard())), httpx.ReadBody(s.bodyLimit), httpx.ValidQuery)
	var background []func(context.Context) error
	if s.runs(svcIngest) {
		svc, err := ingest.New(ingest.Config{}, ingest.Deps{Bus: be.bus, Limiter: limits, Registerer: reg, Logger: log, TracerProvider: tracing})
		if err != nil {
			return err
		}
		svc.Routes(api)
	}
	// Every route mounted from here on is a query of some kind. Ingest,
	// mounted above, has its own limits by events and bytes.
	api = api.Group("", limits.Queries())
	if s.runs(svcQuery) {
		deps := query.Deps{Store: be.store, Logger: log}
		deps.Logs, _ = be.store.(query.LogReader)
		deps.Series, _ = be.store.(query.SeriesReader)
		deps.Stats, _ = be.store.(query.StatsReader)
		deps.Dashboards, _ = be.store.(query.DashboardKeeper)
		query.New(deps).Routes(api)
	}
	if s.runs(svcStream) {
		svc, err := stream.New(stream.Config{QueueSize: s.streamQueue}, stream.Deps{Bus: be.bus, Store: be.store, Registerer: reg, Logger: log})
		if err != nil {
			return err
		}
		svc.Routes(api)
		be.checks["stream"] = svc.Ready
		background = append(background, svc.Run)
	}
	if s.runs(svcAlerting) {
		run, err := startAlerting(s, be, reg, log, api)
		if err != nil {
			return err
		}
		background = append(background, run)
	}
	var writer *ingest.Writer
	if s.runs(svcWriter) {
		writer, err = ingest.NewWriter(ingest.WriterConfig{BatchSize: s.writerBatch, BatchWait: s.writerWait}, ingest.WriterDeps{Bus: be.bus, Store: be.store, Registerer: reg, Logger: log, TracerProvider: tracing})
		if err != nil {
			return err
		}
	}
	app.Use(func(c *fiber.Ctx) error {
		return httpx.NewError(fiber.StatusNotFound, httpx.CodeNotFound, "no route "+c.Method()+" "+c.Path())
	})

	log.Info("taskpulse serving", "listen", "http://"+ln.Addr().String(), "services", s.services, "bus", be.busName, "store", be.storeName)
	if len(s.keys) == 0 {
		log.Warn("no API keys configured: every request is tenant \"" + "default" + "\"; listening on loopback only")
	}

	// Services run under their own context, cancelled only once HTTP has
	// stopped, so that requests in flight can still publish.
	svcCtx, stopServices := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServices()
	g, gctx := errgroup.WithContext(svcCtx)
	for _, run := range background {
		g.Go(func() error { return run(gctx) })
	}
	writerDone := make(chan error, 1)
	if writer != nil {
		go func() { writerDone <- writer.Run(svcCtx) }()
	} else {
		close(writerDone)
	}
	g.Go(func() error { return app.Listener(httpx.LingeringListener(ln, lingerTime, lingerBytes)) })

	select {
	case <-ctx.Done():
		log.Info("stopping: finishing requests in flight")
	case <-gctx.Done():
	}
	shutdownErr := app.ShutdownWithTimeout(s.shutdownGrace)
	if writer != nil {
		waitDrained(be.bus, writer.Group(), s.shutdownGrace, log)
	}
	stopServices()
	log.Info("stopping: draining the writer")
	writerErr := <-writerDone
	runErr := g.Wait()
	if errors.Is(runErr, context.Canceled) {
		runErr = nil
	}
	log.Info("stopped")
	return errors.Join(runErr, writerErr, shutdownErr)
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

func newLogger(level, format string) *slog.Logger {
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
