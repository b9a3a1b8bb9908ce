package ingest

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gofiber/fiber/v2"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/taskpulse/taskpulse/ingest/internal/ingesttest"
	"github.com/taskpulse/taskpulse/internal/bus/embedded"
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
			Attributes: []*commonpb.KeyValue{ingesttest.Str("task_id", fmt.Sprintf("load-%d", i%1000)), ingesttest.Str("region", "local")},
			TraceId:    bytes.Repeat([]byte{byte(i)}, 16), SpanId: bytes.Repeat([]byte{1}, 8),
		}
	}
	b, err := proto.Marshal(&logspb.LogsData{ResourceLogs: []*logspb.ResourceLogs{{
		Resource:  &resourcepb.Resource{Attributes: []*commonpb.KeyValue{ingesttest.Str("service.name", "loadgen")}},
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
	const n = 500
	logs, metrics := signalBodies(n)
	runPosts(b, benchServer(b, Deps{}), []benchPost{
		{"logs/batch=500", "/v1/logs", "application/json", nil, logs, n, fiber.StatusAccepted},
		{"metrics/batch=500", "/v1/metrics", "application/json", nil, metrics, n, fiber.StatusAccepted},
		{"metrics-promtext/batch=500", "/v1/metrics", "text/plain; version=0.0.4", nil, promTextBody(n), n, fiber.StatusAccepted},
		{"otlp-logs-protobuf/batch=500", "/v1/otlp/logs", "application/x-protobuf", nil, otlpLogsBody(n), n, fiber.StatusOK},
	})
}

// logLines is n NDJSON log lines shaped like a log shipper's, ~330 bytes
// each: a timestamp, a level, a ~120-byte message, a task and a user, and
// three attributes.
func logLines(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"timestamp":%d,"level":"INFO","message":"delivered message %08d to the mail relay after %d ms; queue depth is %d and the relay answered 250 OK queued","task_id":"019ac2a4-5b6e-7c3d-9f00-%012d","user_id":"user-%05d","attributes":{"queue":"emails","attempt":"%d","worker":"worker-%02d"}}`+"\n",
			1_700_000_000_000+int64(i), i, i%900, i%50, i%400, i%20000, i%3+1, i%32)
	}
	return b.Bytes()
}

// BenchmarkPostLogLines drives /v1/logs with NDJSON batches over an
// in-memory listener into a real embedded bus, which writes and fsyncs
// each group of requests: the whole acknowledged path of a log line.
func BenchmarkPostLogLines(b *testing.B) {
	bus, err := embedded.Open(filepath.Join(b.TempDir(), "bus"), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bus.Close() })
	var posts []benchPost
	for _, n := range []int{500, 2000} {
		posts = append(posts, benchPost{name: fmt.Sprintf("batch=%d", n), path: "/v1/logs", contentType: "application/x-ndjson",
			body: logLines(n), n: n, status: fiber.StatusAccepted})
	}
	runPosts(b, serveIngest(b, Deps{Bus: bus}), posts)
}
