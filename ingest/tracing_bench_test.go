package ingest

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
)

// discardSpans is an exporter that drops what it is given, so that the
// benchmark measures making the spans rather than sending them.
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

// BenchmarkPostTraced is BenchmarkPost with tracing on, as when an OTLP
// endpoint is configured: every request carries a traceparent, makes a
// span that goes to a batch processor, and puts its context on every
// record. Beside BenchmarkPost it gives the price of tracing.
func BenchmarkPostTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardSpans{}))
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	svc, err := New(Config{}, Deps{Bus: discardBus{}, TracerProvider: tp})
	if err != nil {
		b.Fatal(err)
	}
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler, DisableStartupMessage: true})
	svc.Routes(app.Group("", auth.Keys{}.Middleware()))
	ln := fasthttputil.NewInmemoryListener()
	go app.Listener(ln)
	b.Cleanup(func() { app.Shutdown() })
	client := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}

	for _, n := range []int{1, 100, 500} {
		body := benchBody(n, false)
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				for pb.Next() {
					req.SetRequestURI("http://ingest/v1/progress")
					req.Header.SetMethod(fasthttp.MethodPost)
					req.Header.SetContentType("application/json")
					req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
					req.SetBody(body)
					if err := client.Do(req, resp); err != nil {
						b.Fatal(err)
					}
					if resp.StatusCode() != fiber.StatusAccepted {
						b.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
					}
				}
			})
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}
