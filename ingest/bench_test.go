package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/internal/httpx"
)

// benchBody builds a request of n events shaped like loadgen's: about
// 330 bytes each, with a message and a few attributes.
func benchBody(n int, ndjson bool) []byte {
	var buf bytes.Buffer
	if !ndjson {
		buf.WriteByte('[')
	}
	for i := range n {
		if i > 0 && !ndjson {
			buf.WriteByte(',')
		}
		task := i % 1000
		fmt.Fprintf(&buf, `{"task_id":"load-%d","user_id":"user-%d","task_type":"scrape_docs","task_name":"Scrape documentation site %d","status":"running","progress":%d,"current_step":"fetching pages","steps_done":%d,"steps_total":100,"message":"fetched page %d of the documentation","seq":%d,"attributes":{"source":"loadgen","region":"local","sent_ns":""}}`,
			task, task%50, task, i%100, i%100, i, i)
		if ndjson {
			buf.WriteByte('\n')
		}
	}
	if !ndjson {
		buf.WriteByte(']')
	}
	return buf.Bytes()
}

// BenchmarkDecode measures decoding and validating a body, the part of a
// request that grows with its events.
func BenchmarkDecode(b *testing.B) {
	s := &Service{}
	for _, n := range []int{1, 100, 500} {
		for _, format := range []string{formatJSON, formatNDJSON} {
			body := benchBody(n, format == formatNDJSON)
			b.Run(fmt.Sprintf("%s/batch=%d", format, n), func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if _, problems, err := s.decodeBody(format, body, 1_700_000_000_000); err != nil || len(problems) > 0 {
						b.Fatal(err, problems)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
			})
		}
	}
}

// discardBus takes every record at once, so that the benchmark measures
// ingest's own work rather than the disk.
type discardBus struct{}

func (discardBus) Publish(context.Context, ...bus.Record) error { return nil }

// benchServer serves ingest, with deps and a bus that discards, over an
// in-memory listener.
func benchServer(b *testing.B, deps Deps) *fasthttp.Client {
	deps.Bus = discardBus{}
	return serveIngest(b, deps)
}

// serveIngest serves ingest, with deps, over an in-memory listener.
func serveIngest(b *testing.B, deps Deps) *fasthttp.Client {
	svc, err := New(Config{}, deps)
	if err != nil {
		b.Fatal(err)
	}
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler, DisableStartupMessage: true})
	svc.Routes(app.Group("", auth.Keys{}.Middleware()))
	ln := fasthttputil.NewInmemoryListener()
	go app.Listener(ln)
	b.Cleanup(func() { app.Shutdown() })
	return &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
}

// benchPost is one request a benchmark sends over and over, of n events.
type benchPost struct {
	name, path, contentType string
	header                  map[string]string
	body                    []byte
	n                       int
	status                  int
}

// runPosts sends each post from parallel clients and reports events/s
// and ns/event.
func runPosts(b *testing.B, client *fasthttp.Client, posts []benchPost) {
	for _, bp := range posts {
		b.Run(bp.name, func(b *testing.B) {
			b.SetBytes(int64(len(bp.body)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				for pb.Next() {
					req.SetRequestURI("http://ingest" + bp.path)
					req.Header.SetMethod(fasthttp.MethodPost)
					req.Header.SetContentType(bp.contentType)
					for k, v := range bp.header {
						req.Header.Set(k, v)
					}
					req.SetBody(bp.body)
					if err := client.Do(req, resp); err != nil {
						b.Fatal(err)
					}
					if resp.StatusCode() != bp.status {
						b.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
					}
				}
			})
			b.ReportMetric(float64(b.N*bp.n)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bp.n), "ns/event")
		})
	}
}

// progressPosts are progress batches of 1, 100 and 500 events.
func progressPosts(header map[string]string) []benchPost {
	var posts []benchPost
	for _, n := range []int{1, 100, 500} {
		posts = append(posts, benchPost{name: fmt.Sprintf("batch=%d", n), path: "/v1/progress", contentType: "application/json",
			header: header, body: benchBody(n, false), n: n, status: fiber.StatusAccepted})
	}
	return posts
}

// BenchmarkPost drives the whole request path, HTTP parsing and response
// included, over an in-memory listener.
func BenchmarkPost(b *testing.B) {
	runPosts(b, benchServer(b, Deps{}), progressPosts(nil))
}

// BenchmarkPostWithControl is BenchmarkPost with the control registry
// every server wires: with no request pending anywhere (the check is one
// atomic load), and with one pending for a task of the tenant that the
// batches do not report (every event is looked up, none is answered).
func BenchmarkPostWithControl(b *testing.B) {
	for _, pending := range []int{0, 1} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			controls := control.NewRegistry(nil, nil, nil)
			if pending > 0 {
				controls.Apply(control.Request{Tenant: auth.DefaultTenant, TaskID: "elsewhere", Action: control.Cancel, Version: 1})
			}
			runPosts(b, benchServer(b, Deps{Control: controls}), progressPosts(nil))
		})
	}
}
