package ingesttest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/taskpulse/taskpulse/schema"
)

// Now is the clock of the tests, in milliseconds.
const Now = int64(1_700_000_000_000)

// Row writes a sample on one line, labels sorted, for exact comparison.
func Row(m schema.Metric) string {
	keys := slices.Sorted(maps.Keys(m.Labels))
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + m.Labels[k]
	}
	s := fmt.Sprintf("%s %s{%s} %g @%d", m.Kind, m.Name, strings.Join(pairs, ","), m.Value, m.Timestamp)
	if m.Unit != "" {
		s += " unit=" + m.Unit
	}
	if m.TaskID != "" {
		s += " task=" + m.TaskID
	}
	return s
}

// Rows is Row of every sample.
func Rows(samples []schema.Metric) []string {
	out := make([]string, len(samples))
	for i, m := range samples {
		out[i] = Row(m)
	}
	return out
}

// Str is a string attribute.
func Str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// KV is an attribute of any value.
func KV(k string, v *commonpb.AnyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: v}
}

// OTLPJSON writes m as OTLP/JSON does: protojson, except that trace and
// span ids are hex instead of base64.
func OTLPJSON(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := protojson.Marshal(m)
	require.NoError(t, err)
	var v any
	require.NoError(t, json.Unmarshal(b, &v))
	var toHex func(any)
	toHex = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok && (k == "traceId" || k == "spanId") {
					raw, err := base64.StdEncoding.DecodeString(s)
					require.NoError(t, err)
					v[k] = hex.EncodeToString(raw)
					continue
				}
				toHex(c)
			}
		case []any:
			for _, c := range v {
				toHex(c)
			}
		}
	}
	toHex(v)
	out, err := json.Marshal(v)
	require.NoError(t, err)
	return out
}

// LogsData is an export of seven log records: attributes of every kind,
// ids, a record with only an observed time and a map body, and severities
// given by number, by text and by neither.
func LogsData() *logspb.LogsData {
	trace, _ := hex.DecodeString("5b8efff798038103d269b633813fc60c")
	span, _ := hex.DecodeString("eee19b7ec3c1b174")
	record := func(sev logspb.SeverityNumber, text, body string, attrs ...*commonpb.KeyValue) *logspb.LogRecord {
		return &logspb.LogRecord{
			TimeUnixNano: 1_700_000_000_123_456_789, SeverityNumber: sev, SeverityText: text,
			Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: body}}, Attributes: attrs,
		}
	}
	first := record(logspb.SeverityNumber_SEVERITY_NUMBER_ERROR2, "ERROR", "fetch failed",
		Str("task_id", "job-7"), Str("user_id", "u-1"),
		KV("attempt", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 3}}),
		KV("retry", &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}),
		KV("ratio", &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 0.25}}),
		KV("tags", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{
			{Value: &commonpb.AnyValue_StringValue{StringValue: "a"}}, {Value: &commonpb.AnyValue_IntValue{IntValue: 1}},
		}}}}),
		Str("deployment.environment", "record wins"),
	)
	first.TraceId, first.SpanId = trace, span
	// No time, only an observed time; a map body.
	second := &logspb.LogRecord{
		ObservedTimeUnixNano: 1_700_000_001_000_000_000, SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_TRACE3,
		Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{
			Str("event", "login"), KV("ok", &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: false}}),
		}}}},
	}
	return &logspb.LogsData{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{Str("service.name", "scraper"), Str("deployment.environment", "prod")}},
		ScopeLogs: []*logspb.ScopeLogs{
			{
				Scope:      &commonpb.InstrumentationScope{Name: "scraper/fetch", Version: "1.2.0"},
				LogRecords: []*logspb.LogRecord{first, second},
			},
			{
				LogRecords: []*logspb.LogRecord{
					record(logspb.SeverityNumber_SEVERITY_NUMBER_UNSPECIFIED, "warn", "no number, text only"),
					record(logspb.SeverityNumber_SEVERITY_NUMBER_UNSPECIFIED, "", "neither"),
					record(logspb.SeverityNumber_SEVERITY_NUMBER_FATAL, "", "down"),
					record(logspb.SeverityNumber_SEVERITY_NUMBER_INFO4, "", "info"),
					record(logspb.SeverityNumber_SEVERITY_NUMBER_WARN, "", "warn"),
				},
			},
		},
	}}}
}

// GaugePoint is a double point at a fixed time.
func GaugePoint(v float64, attrs ...*commonpb.KeyValue) *metricspb.NumberDataPoint {
	return &metricspb.NumberDataPoint{TimeUnixNano: 1_700_000_000_500_000_000, Attributes: attrs, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: v}}
}

// MetricsData is an export of every kind of metric OTLP has, with a point
// without a time and one without a recorded value.
func MetricsData() *metricspb.MetricsData {
	sum := 7.5
	return &metricspb.MetricsData{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{Str("service.name", "worker")}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{
			Scope: &commonpb.InstrumentationScope{Name: "worker/meter"},
			Metrics: []*metricspb.Metric{
				{Name: "queue.depth", Unit: "{item}", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{
					GaugePoint(4, Str("queue", "a")),
					{Attributes: []*commonpb.KeyValue{Str("queue", "b")}, Value: &metricspb.NumberDataPoint_AsInt{AsInt: 9}}, // no time: now
					{TimeUnixNano: 1_700_000_000_500_000_000, Flags: uint32(metricspb.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK)},
				}}}},
				{Name: "jobs.done", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
					IsMonotonic: true, AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
					DataPoints: []*metricspb.NumberDataPoint{{TimeUnixNano: 1_700_000_000_500_000_000, Attributes: []*commonpb.KeyValue{Str("task_id", "job-7")}, Value: &metricspb.NumberDataPoint_AsInt{AsInt: 12}}},
				}}},
				{Name: "jobs.delta", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
					IsMonotonic: true, AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
					DataPoints: []*metricspb.NumberDataPoint{GaugePoint(2)},
				}}},
				{Name: "in_flight", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
					AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
					DataPoints:             []*metricspb.NumberDataPoint{GaugePoint(-1)},
				}}},
				{Name: "step.duration", Unit: "s", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
					AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
					DataPoints: []*metricspb.HistogramDataPoint{{
						TimeUnixNano: 1_700_000_000_500_000_000, Count: 6, Sum: &sum,
						ExplicitBounds: []float64{0.5, 2}, BucketCounts: []uint64{1, 3, 2},
					}},
				}}},
				{Name: "payload", Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{
					AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
					DataPoints:             []*metricspb.ExponentialHistogramDataPoint{{TimeUnixNano: 1_700_000_000_500_000_000, Count: 4, Scale: 2}},
				}}},
				{Name: "rpc.latency", Data: &metricspb.Metric_Summary{Summary: &metricspb.Summary{DataPoints: []*metricspb.SummaryDataPoint{{
					TimeUnixNano: 1_700_000_000_500_000_000, Count: 10, Sum: 5,
					QuantileValues: []*metricspb.SummaryDataPoint_ValueAtQuantile{{Quantile: 0.5, Value: 0.4}, {Quantile: 0.99, Value: 1.5}},
				}}}}},
			},
		}},
	}}}
}
