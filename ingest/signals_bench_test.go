package ingest

import (
	"bytes"
	"fmt"
	"net"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
)

// signalBodies builds requests of n logs and of n metric samples in the
// shapes a worker sends: a log line tied to a task with a few attributes,
// and a labelled counter.
func signalBodies(n int) (logs, metrics []byte) {
	var l, m bytes.Buffer
	l.WriteByte('[')
	m.WriteByte('[')
	for i := range n {
		if i > 0 {
			l.WriteByte(',')
			m.WriteByte(',')
		}
		fmt.Fprintf(&l, `{"task_id":"load-%d","user_id":"user-%d","level":"INFO","message":"fetched page %d of the documentation","source":"loadgen","attributes":{"region":"local","attempt":"1"}}`, i%1000, i%50, i)
		fmt.Fprintf(&m, `{"name":"pages_fetched","kind":"counter","value":%d,"unit":"pages","labels":{"site":"docs-%d","region":"local"},"task_id":"load-%d"}`, i, i%20, i%1000)
	}
	l.WriteByte(']')
	m.WriteByte(']')
	return l.Bytes(), m.Bytes()
}

// promTextBody is n samples of one counter family in the text format.
func promTextBody(n int) []byte {
	var b bytes.Buffer
	b.WriteString("# HELP pages_fetched_total Pages fetched.\n# TYPE pages_fetched_total counter\n")
	for i := range n {
		fmt.Fprintf(&b, "pages_fetched_total{site=\"docs-%d\",region=\"local\",task_id=\"load-%d\"} %d\n", i%20, i, i)
	}
	return b.Bytes()
}

// otlpLogsBody is n log records of one resource and scope in protobuf.
func otlpLogsBody(n int) []byte {
	records := make([]*logspb.LogRecord, n)
	for i := range records {
		records[i] = &logspb.LogRecord{
			TimeUnixNano: 1_700_000_000_000_000_000, SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_INFO,
			Body:       &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: fmt.Sprintf("fetched page %d of the documentation", i)}},
			Attributes: []*commonpb.KeyValue{str("task_id", fmt.Sprintf("load-%d", i%1000)), str("region", "local")},
			TraceId:    bytes.Repeat([]byte{byte(i)}, 16), SpanId: bytes.Repeat([]byte{1}, 8),
		}
	}
	b, err := proto.Marshal(&logspb.LogsData{ResourceLogs: []*logspb.ResourceLogs{{
		Resource:  &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "loadgen")}},
		ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: "loadgen"}, LogRecords: records}},
	}}})
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkPostSignals drives the log and metric endpoints end to end
// over an in-memory listener, with a bus that takes everything at once,
// and reports events per second.
func BenchmarkPostSignals(b *testing.B) {
	svc, err := New(Config{}, Deps{Bus: discardBus{}})
	if err != nil {
		b.Fatal(err)
	}
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler, DisableStartupMessage: true})
	svc.Routes(app.Group("", auth.Keys{}.Middleware()))
	ln := fasthttputil.NewInmemoryListener()
	go app.Listener(ln)
	b.Cleanup(func() { app.Shutdown() })
	client := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}

	const n = 500
	logs, metrics := signalBodies(n)
	for _, bc := range []struct {
		name, path, contentType string
		body                    []byte
		status                  int
	}{
		{"logs", "/v1/logs", "application/json", logs, fiber.StatusAccepted},
		{"metrics", "/v1/metrics", "application/json", metrics, fiber.StatusAccepted},
		{"metrics-promtext", "/v1/metrics", "text/plain; version=0.0.4", promTextBody(n), fiber.StatusAccepted},
		{"otlp-logs-protobuf", "/v1/otlp/logs", "application/x-protobuf", otlpLogsBody(n), fiber.StatusOK},
	} {
		b.Run(fmt.Sprintf("%s/batch=%d", bc.name, n), func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				for pb.Next() {
					req.SetRequestURI("http://ingest" + bc.path)
					req.Header.SetMethod(fasthttp.MethodPost)
					req.Header.SetContentType(bc.contentType)
					req.SetBody(bc.body)
					if err := client.Do(req, resp); err != nil {
						b.Fatal(err)
					}
					if resp.StatusCode() != bc.status {
						b.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
					}
				}
			})
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}
