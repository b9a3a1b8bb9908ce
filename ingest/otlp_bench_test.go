package ingest

import (
	"net"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/taskpulse/taskpulse/ingest/otlp"
	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
)

// BenchmarkDefaultPathsTaskPulseJSON measures what sharing /v1/logs and
// /v1/metrics with OTLP costs TaskPulse's own JSON: each iteration posts
// the same batch to a server mounting Routes and to one mounting the
// TaskPulse handlers alone, in alternating order, and times each. Both
// see the same load on the machine, so their ratio holds where absolute
// figures on a shared machine do not.
func BenchmarkDefaultPathsTaskPulseJSON(b *testing.B) {
	const n = 500
	logs, metrics := signalBodies(n)
	routed := benchServer(b, Deps{})
	alone := serveMounted(b, func(s *Service, r fiber.Router) {
		s.post(r, "/v1/logs", eventIDsQuery, s.postLogs)
		s.post(r, "/v1/metrics", eventIDsQuery, s.postMetrics)
	})
	for _, bp := range []struct {
		name, path string
		body       []byte
	}{{"logs/batch=500", "/v1/logs", logs}, {"metrics/batch=500", "/v1/metrics", metrics}} {
		b.Run(bp.name, func(b *testing.B) {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			post := func(client *fasthttp.Client) time.Duration {
				req.SetRequestURI("http://ingest" + bp.path)
				req.Header.SetMethod(fasthttp.MethodPost)
				req.Header.SetContentType("application/json")
				req.SetBody(bp.body)
				start := time.Now()
				if err := client.Do(req, resp); err != nil {
					b.Fatal(err)
				}
				took := time.Since(start)
				if resp.StatusCode() != fiber.StatusAccepted {
					b.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
				}
				return took
			}
			var now, before time.Duration
			i := 0
			for b.Loop() {
				if i%2 == 0 {
					now += post(routed)
					before += post(alone)
				} else {
					before += post(alone)
					now += post(routed)
				}
				i++
			}
			b.ReportMetric(float64(now.Nanoseconds())/float64(i*n), "now-ns/event")
			b.ReportMetric(float64(before.Nanoseconds())/float64(i*n), "before-ns/event")
			b.ReportMetric(float64(now)/float64(before), "now/before")
		})
	}
}

// BenchmarkIsExport is the dispatch a TaskPulse JSON batch of 500 logs
// pays on a default path.
func BenchmarkIsExport(b *testing.B) {
	logs, _ := signalBodies(500)
	for b.Loop() {
		if isExport("application/json", logs, otlp.LogsKey) {
			b.Fatal("a TaskPulse body taken for an export")
		}
	}
}

// serveMounted serves the routes mount mounts, over an in-memory
// listener and a bus that discards.
func serveMounted(b *testing.B, mount func(*Service, fiber.Router)) *fasthttp.Client {
	svc, err := New(Config{}, Deps{Bus: discardBus{}})
	if err != nil {
		b.Fatal(err)
	}
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler, DisableStartupMessage: true})
	mount(svc, app.Group("", auth.Keys{}.Middleware()))
	ln := fasthttputil.NewInmemoryListener()
	go app.Listener(ln)
	b.Cleanup(func() { app.Shutdown() })
	return &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
}
