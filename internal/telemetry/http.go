package telemetry

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/taskpulse/taskpulse/internal/httpx"
)

// NewRegistry returns a registry with the Go runtime and process
// collectors, the base of every process's /metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// RequestMetrics counts requests and their latency by route pattern (not
// by raw path, which would make a series per task id) and status code. A
// request refused by a middleware (no key, a bad Origin) is counted under
// the route it asked for, found among app's routes.
func RequestMetrics(reg prometheus.Registerer, app *fiber.App) fiber.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "taskpulse_http_requests_total",
		Help: "HTTP requests by method, route and status code.",
	}, []string{"method", "route", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "taskpulse_http_request_duration_seconds",
		Help:    "HTTP request latency by method and route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
	}, []string{"method", "route"})
	reg.MustRegister(requests, latency)
	routes := sync.OnceValue(func() routeTable { return newRouteTable(app) })
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		status := responseStatus(c, err)
		route := c.Route().Path
		if route == "/" && c.Path() != "/" {
			route = routes().match(c.Method(), c.Path())
		}
		method := strings.Clone(c.Method()) // Fiber reuses the buffer behind it
		requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
		latency.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		return err
	}
}

// responseStatus is the status code of the answer to c: the one written,
// or, when the route returned err, the one the error handler, which has
// not run yet, will write.
func responseStatus(c *fiber.Ctx, err error) int {
	if err == nil {
		return c.Response().StatusCode()
	}
	if e, ok := err.(*httpx.Error); ok {
		return e.Status
	}
	if fe, ok := err.(*fiber.Error); ok {
		return fe.Code
	}
	return fiber.StatusInternalServerError
}

// Check is a readiness probe of one dependency.
type Check func(ctx context.Context) error

// Routes mounts /metrics, /healthz (the process is up) and /readyz (every
// check passes) on r.
func Routes(r fiber.Router, gatherer prometheus.Gatherer, checks map[string]Check) {
	r.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})))
	r.Get("/healthz", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	})
	r.Get("/readyz", func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		failed := fiber.Map{}
		for name, check := range checks {
			if err := check(ctx); err != nil {
				failed[name] = err.Error()
			}
		}
		if len(failed) > 0 {
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "failed": failed})
		}
		return c.JSON(fiber.Map{"status": "ready"})
	})
}
