package ingest

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/schema"
)

// postOTLPMetrics takes an OTLP/HTTP metrics export.
func (s *Service) postOTLPMetrics(c *fiber.Ctx) error {
	encoding, err := otlpEncoding(c.Get(fiber.HeaderContentType))
	if err != nil {
		return err
	}
	var req metricspb.MetricsData
	if err := unmarshalOTLP(encoding, c.Body(), &req); err != nil {
		return s.otlpUnreadable(schema.TopicMetrics, encoding, err)
	}
	now := s.now()
	samples := otlpMetrics(&req, now.UnixMilli())
	if len(samples) == 0 {
		return otlpSuccess(c, encoding)
	}
	if problems := validateMetrics(samples, now.UnixMilli()); len(problems) > 0 {
		return s.invalid(schema.TopicMetrics, len(samples), problems)
	}
	recs, _, err := s.stampMetrics(c.UserContext(), samples, auth.Tenant(c), now)
	if err != nil {
		return err
	}
	if err := s.publish(c.UserContext(), schema.TopicMetrics, recs); err != nil {
		return err
	}
	return otlpSuccess(c, encoding)
}

// otlpMetrics maps every data point of an export to samples, the way
// Prometheus' OTLP receiver does, so that a series reads the same whether
// it was scraped or pushed:
//
//   - a gauge point is a gauge;
//   - a sum point is a counter when the sum is monotonic and cumulative,
//     else a gauge (a delta point is an increment, not a running total,
//     and a counter's rate would misread it);
//   - a histogram point is _bucket (labelled le, cumulative), _sum and
//     _count, counters when cumulative, gauges when delta;
//   - an exponential histogram point is _sum and _count only, as its
//     buckets have no le bounds to store;
//   - a summary point is a gauge per quantile, and counters _sum, _count.
//
// Names are made Prometheus names (other characters become '_'); labels
// are the resource's, the scope's and the point's attributes, stringified.
// A point flagged as having no recorded value is skipped.
func otlpMetrics(req *metricspb.MetricsData, now int64) []schema.Metric {
	var samples []schema.Metric
	for _, rm := range req.GetResourceMetrics() {
		resource := rm.GetResource().GetAttributes()
		for _, sm := range rm.GetScopeMetrics() {
			base := scopeAttrs(resource, sm.GetScope())
			for _, m := range sm.GetMetrics() {
				samples = appendOTLPMetric(samples, m, base, now)
			}
		}
	}
	return samples
}

func appendOTLPMetric(out []schema.Metric, m *metricspb.Metric, base attrs, now int64) []schema.Metric {
	name := promName(m.GetName())
	point := func(attributes attrsSource, timeNano uint64) *sampleBuilder {
		a := base.clone()
		a.add(attributes.GetAttributes())
		return &sampleBuilder{name: name, labels: labelsOrNil(a), ts: pointTime(timeNano, now), unit: m.GetUnit(), out: out}
	}
	switch d := m.GetData().(type) {
	case *metricspb.Metric_Gauge:
		for _, p := range d.Gauge.GetDataPoints() {
			if noValue(p.GetFlags()) {
				continue
			}
			sb := point(p, p.GetTimeUnixNano())
			sb.add("", schema.KindGauge, numberValue(p), "", "")
			out = sb.out
		}
	case *metricspb.Metric_Sum:
		kind := schema.KindGauge
		if d.Sum.GetIsMonotonic() && cumulative(d.Sum.GetAggregationTemporality()) {
			kind = schema.KindCounter
		}
		for _, p := range d.Sum.GetDataPoints() {
			if noValue(p.GetFlags()) {
				continue
			}
			sb := point(p, p.GetTimeUnixNano())
			sb.add("", kind, numberValue(p), "", "")
			out = sb.out
		}
	case *metricspb.Metric_Histogram:
		kind := runningKind(d.Histogram.GetAggregationTemporality())
		for _, p := range d.Histogram.GetDataPoints() {
			if noValue(p.GetFlags()) {
				continue
			}
			sb := point(p, p.GetTimeUnixNano())
			sb.histogram(kind, otlpBuckets(p), p.Sum != nil, p.GetSum(), float64(p.GetCount()))
			out = sb.out
		}
	case *metricspb.Metric_ExponentialHistogram:
		kind := runningKind(d.ExponentialHistogram.GetAggregationTemporality())
		for _, p := range d.ExponentialHistogram.GetDataPoints() {
			if noValue(p.GetFlags()) {
				continue
			}
			sb := point(p, p.GetTimeUnixNano())
			if p.Sum != nil {
				sb.add("_sum", kind, p.GetSum(), "", "")
			}
			sb.add("_count", kind, float64(p.GetCount()), "", "")
			out = sb.out
		}
	case *metricspb.Metric_Summary:
		for _, p := range d.Summary.GetDataPoints() {
			if noValue(p.GetFlags()) {
				continue
			}
			quantiles := make([]quantile, len(p.GetQuantileValues()))
			for i, q := range p.GetQuantileValues() {
				quantiles[i] = quantile{q.GetQuantile(), q.GetValue()}
			}
			sb := point(p, p.GetTimeUnixNano())
			sb.summary(quantiles, p.GetSum(), float64(p.GetCount()))
			out = sb.out
		}
	}
	return out
}

// attrsSource is any OTLP data point: they all carry attributes.
type attrsSource interface {
	GetAttributes() []*commonpb.KeyValue
}

// otlpBuckets turns a histogram point's per-bucket counts into cumulative
// ones with their upper bounds; the last bucket, above every bound, is +Inf
// and left to histogram, which adds it from the count.
func otlpBuckets(p *metricspb.HistogramDataPoint) []bucket {
	bounds, counts := p.GetExplicitBounds(), p.GetBucketCounts()
	buckets := make([]bucket, 0, len(bounds))
	var cum float64
	for i, le := range bounds {
		if i < len(counts) {
			cum += float64(counts[i])
		}
		buckets = append(buckets, bucket{le: le, count: cum})
	}
	return buckets
}

func numberValue(p *metricspb.NumberDataPoint) float64 {
	if v, ok := p.GetValue().(*metricspb.NumberDataPoint_AsInt); ok {
		return float64(v.AsInt)
	}
	return p.GetAsDouble()
}

func cumulative(t metricspb.AggregationTemporality) bool {
	return t == metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
}

// runningKind is counter for running totals, gauge for increments.
func runningKind(t metricspb.AggregationTemporality) schema.MetricKind {
	if cumulative(t) {
		return schema.KindCounter
	}
	return schema.KindGauge
}

func noValue(flags uint32) bool {
	return flags&uint32(metricspb.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK) != 0
}

func pointTime(timeNano uint64, now int64) int64 {
	if ms := otlpMillis(timeNano); ms != 0 {
		return ms
	}
	return now
}

func labelsOrNil(a attrs) map[string]string {
	if len(a) == 0 {
		return nil
	}
	return a
}

// promName makes an OTLP metric name ("http.server.duration") a
// Prometheus one ("http_server_duration"), as Prometheus' OTLP receiver
// does without suffixes.
func promName(name string) string {
	var b strings.Builder
	b.Grow(len(name) + 1)
	for i, r := range name {
		switch {
		case r == '_' || r == ':' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
		case r >= '0' && r <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
		default:
			r = '_'
		}
		b.WriteRune(r)
	}
	return b.String()
}
