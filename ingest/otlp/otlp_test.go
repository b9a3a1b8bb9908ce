package otlp

import (
	"testing"

	"github.com/stretchr/testify/require"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/taskpulse/taskpulse/ingest/internal/ingesttest"
	"github.com/taskpulse/taskpulse/schema"
)

func TestOTLPLogsMapping(t *testing.T) {
	data := ingesttest.LogsData()
	pb, err := proto.Marshal(data)
	require.NoError(t, err)
	for _, tc := range []struct {
		encoding string
		body     []byte
	}{{Protobuf, pb}, {JSON, ingesttest.OTLPJSON(t, data)}} {
		t.Run(tc.encoding, func(t *testing.T) {
			var req logspb.LogsData
			ignored, err := unmarshal(tc.encoding, tc.body, &req)
			require.NoError(t, err)
			require.Empty(t, ignored)
			logs, where := logRecords(&req)
			require.Len(t, logs, 7)
			require.Equal(t, schema.Log{
				Timestamp: 1_700_000_000_123, TaskID: "job-7", UserID: "u-1", Level: schema.LevelError,
				Message: "fetch failed", Source: "scraper",
				TraceID: "5b8efff798038103d269b633813fc60c", SpanID: "eee19b7ec3c1b174",
				Attributes: map[string]string{
					"service.name": "scraper", "deployment.environment": "record wins",
					"otel.scope.name": "scraper/fetch", "otel.scope.version": "1.2.0",
					"task_id": "job-7", "user_id": "u-1",
					"attempt": "3", "retry": "true", "ratio": "0.25", "tags": `["a",1]`,
				},
			}, logs[0])
			require.Equal(t, schema.Log{
				Timestamp: 1_700_000_001_000, Level: schema.LevelDebug, Message: `{"event":"login","ok":false}`, Source: "scraper",
				Attributes: map[string]string{
					"service.name": "scraper", "deployment.environment": "prod",
					"otel.scope.name": "scraper/fetch", "otel.scope.version": "1.2.0",
				},
			}, logs[1])
			levels := make([]schema.Level, 0, 5)
			for _, l := range logs[2:] {
				levels = append(levels, l.Level)
				require.Equal(t, map[string]string{"service.name": "scraper", "deployment.environment": "prod"}, l.Attributes)
			}
			require.Equal(t, []schema.Level{schema.LevelWarning, schema.LevelInfo, schema.LevelCritical, schema.LevelInfo, schema.LevelWarning}, levels)
			require.Equal(t, "resourceLogs[0].scopeLogs[1].logRecords[2]", where[4])
			checked, problems, err := Logs(tc.encoding, tc.body, ingesttest.Now)
			require.NoError(t, err)
			require.Empty(t, problems)
			require.Equal(t, logs, checked)
		})
	}
}

// The example of the OTLP specification's logs.json, in OTLP/JSON as a
// client writes it: upper-case hex ids, int64 as strings, an enum as its
// number.
const specLogsJSON = `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},
 "scopeLogs":[{"scope":{"name":"my.library","version":"1.0.0","attributes":[{"key":"my.scope.attribute","value":{"stringValue":"some scope attribute"}}]},
 "logRecords":[{"timeUnixNano":"1544712660300000000","observedTimeUnixNano":"1544712660300000000","severityNumber":10,"severityText":"Information",
 "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","body":{"stringValue":"Example log record"},
 "attributes":[{"key":"string.attribute","value":{"stringValue":"some string"}},{"key":"boolean.attribute","value":{"boolValue":true}},
 {"key":"int.attribute","value":{"intValue":"10"}},{"key":"double.attribute","value":{"doubleValue":637.704}},
 {"key":"array.attribute","value":{"arrayValue":{"values":[{"stringValue":"many"},{"stringValue":"values"}]}}},
 {"key":"map.attribute","value":{"kvlistValue":{"values":[{"key":"some.map.key","value":{"stringValue":"some value"}}]}}}],
 "futureField":"ignored"}]}]}]}`

func TestOTLPLogsSpecJSON(t *testing.T) {
	var req logspb.LogsData
	ignored, err := unmarshal(JSON, []byte(specLogsJSON), &req)
	require.NoError(t, err)
	require.Equal(t, "resourceLogs[0].scopeLogs[0].logRecords[0].futureField", ignored)
	logs, _ := logRecords(&req)
	require.Equal(t, []schema.Log{{
		Timestamp: 1544712660300, Level: schema.LevelInfo, Message: "Example log record", Source: "my.service",
		TraceID: "5b8efff798038103d269b633813fc60c", SpanID: "eee19b7ec3c1b174",
		Attributes: map[string]string{
			"service.name": "my.service", "otel.scope.name": "my.library", "otel.scope.version": "1.0.0",
			"my.scope.attribute": "some scope attribute", "string.attribute": "some string", "boolean.attribute": "true",
			"int.attribute": "10", "double.attribute": "637.704", "array.attribute": `["many","values"]`,
			"map.attribute": `{"some.map.key":"some value"}`,
		},
	}}, logs)

	f := func(body, want string) {
		t.Helper()
		var req logspb.LogsData
		_, err := unmarshal(JSON, []byte(body), &req)
		var fe schema.FieldError
		require.ErrorAs(t, err, &fe, body)
		require.Contains(t, fe.Reason, want, body)
	}
	f(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"xyz"}]}]}]}`, `traceId "xyz", which is not hex`)
	f(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"ab"}`, "not valid JSON")
	f(`{"resourceLogs":{}}`, "not valid OTLP JSON")
	_, err = unmarshal(Protobuf, []byte{0xff, 0xff}, &req)
	require.ErrorContains(t, err, "not a valid OTLP protobuf message")
}

func TestOTLPMetricsMapping(t *testing.T) {
	data := ingesttest.MetricsData()
	pb, err := proto.Marshal(data)
	require.NoError(t, err)
	const scope = "otel.scope.name=worker/meter,"
	for _, tc := range []struct {
		encoding string
		body     []byte
	}{{Protobuf, pb}, {JSON, ingesttest.OTLPJSON(t, data)}} {
		t.Run(tc.encoding, func(t *testing.T) {
			var req metricspb.MetricsData
			ignored, err := unmarshal(tc.encoding, tc.body, &req)
			require.NoError(t, err)
			require.Empty(t, ignored)
			samples, problems, err := Metrics(tc.encoding, tc.body, ingesttest.Now)
			require.NoError(t, err)
			require.Empty(t, problems)
			require.Equal(t, []string{
				"gauge queue_depth{" + scope + "queue=a,service.name=worker} 4 @1700000000500 unit={item}",
				"gauge queue_depth{" + scope + "queue=b,service.name=worker} 9 @1700000000000 unit={item}",
				"counter jobs_done{" + scope + "service.name=worker,task_id=job-7} 12 @1700000000500 task=job-7",
				"gauge jobs_delta{" + scope + "service.name=worker} 2 @1700000000500",
				"gauge in_flight{" + scope + "service.name=worker} -1 @1700000000500",
				"counter step_duration_bucket{le=0.5," + scope + "service.name=worker} 1 @1700000000500 unit=s",
				"counter step_duration_bucket{le=2," + scope + "service.name=worker} 4 @1700000000500 unit=s",
				"counter step_duration_bucket{le=+Inf," + scope + "service.name=worker} 6 @1700000000500 unit=s",
				"counter step_duration_sum{" + scope + "service.name=worker} 7.5 @1700000000500 unit=s",
				"counter step_duration_count{" + scope + "service.name=worker} 6 @1700000000500 unit=s",
				"gauge payload_count{" + scope + "service.name=worker} 4 @1700000000500",
				"gauge rpc_latency{" + scope + "quantile=0.5,service.name=worker} 0.4 @1700000000500",
				"gauge rpc_latency{" + scope + "quantile=0.99,service.name=worker} 1.5 @1700000000500",
				"counter rpc_latency_sum{" + scope + "service.name=worker} 5 @1700000000500",
				"counter rpc_latency_count{" + scope + "service.name=worker} 10 @1700000000500",
			}, ingesttest.Rows(samples))
		})
	}
}

func TestOTLPLevelAndNames(t *testing.T) {
	level := func(n logspb.SeverityNumber, text string, want schema.Level) {
		t.Helper()
		require.Equal(t, want, levelOf(n, text), "%v %q", n, text)
	}
	level(1, "", schema.LevelDebug)
	level(8, "", schema.LevelDebug)
	level(9, "ERROR", schema.LevelInfo) // the number decides
	level(12, "", schema.LevelInfo)
	level(13, "", schema.LevelWarning)
	level(16, "", schema.LevelWarning)
	level(17, "", schema.LevelError)
	level(20, "", schema.LevelError)
	level(21, "", schema.LevelCritical)
	level(24, "", schema.LevelCritical)
	level(0, "Warning", schema.LevelWarning)
	level(0, "error2", schema.LevelError)
	level(0, "FATAL", schema.LevelCritical)
	level(0, "debug", schema.LevelDebug)
	level(0, "chatty", schema.LevelInfo)
	level(99, "", schema.LevelInfo)

	name := func(in, want string) {
		t.Helper()
		require.Equal(t, want, promName(in))
	}
	name("http.server.request.duration", "http_server_request_duration")
	name("jobs_total", "jobs_total")
	name("2xx-count", "_2xx_count")
	name("naïve", "na_ve")
}
