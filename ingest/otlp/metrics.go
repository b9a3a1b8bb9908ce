package otlp

import (
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/taskpulse/taskpulse/ingest/internal/samples"
	"github.com/taskpulse/taskpulse/schema"
)

// Metrics decodes an export of metrics in encoding, maps its data points
// to samples and checks them as JSON samples are checked, with what OTLP
// itself requires of its points. now, in milliseconds, is the time of a
// point without one and the time validation judges by.
//
// The error is a schema.FieldError of the body when the body is not OTLP
// in its encoding, and a KeyError when a key is refused. Each problem
// names its point's place in the export. An export without data points is
// no samples and no error.
func Metrics(encoding string, body []byte, now int64) ([]schema.Metric, []schema.FieldError, error) {
	var req metricspb.MetricsData
	ignored, err := unmarshal(encoding, body, &req)
	if err != nil {
		return nil, nil, err
	}
	set, problems := dataPoints(&req, now)
	problems = append(problems, set.Validate(now)...)
	if len(problems) > 0 {
		return set.Samples, problems, nil
	}
	if len(set.Samples) == 0 {
		return nil, nil, nothing(ignored, "data points")
	}
	return set.Samples, nil, nil
}

// dataPoints maps every data point of an export to samples, the way
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
// A point flagged as having no recorded value is skipped: it holds no
// sample. A point that breaks what OTLP requires of it (a number point
// without a value, a monotonic sum below zero, histogram buckets that do
// not match their bounds or their count) is a problem of its first
// sample, so that the request is refused rather than stored as 0.
func dataPoints(req *metricspb.MetricsData, now int64) (*samples.Set, []schema.FieldError) {
	set := &samples.Set{}
	var problems []schema.FieldError
	for ri, rm := range req.GetResourceMetrics() {
		resource := rm.GetResource().GetAttributes()
		for si, sm := range rm.GetScopeMetrics() {
			base := scopeAttrs(resource, sm.GetScope())
			for mi, m := range sm.GetMetrics() {
				problems = appendMetric(set, problems, m, base, samples.Origin{Resource: ri, Scope: si, Metric: mi}, now)
			}
		}
	}
	return set, problems
}

func appendMetric(set *samples.Set, problems []schema.FieldError, m *metricspb.Metric, base attrs, at samples.Origin, now int64) []schema.FieldError {
	name := promName(m.GetName())
	var first int
	point := func(attributes attrsSource, i int, timeNano uint64) *samples.Builder {
		a := base.clone()
		a.add(attributes.GetAttributes())
		from := at
		from.Point = i
		first = len(set.Samples)
		return &samples.Builder{Name: name, Labels: labelsOrNil(a), TS: pointTime(timeNano, now), Unit: m.GetUnit(), From: from, Out: set}
	}
	refuse := func(sb *samples.Builder, field, reason string) {
		problems = append(problems, schema.FieldError{Index: first, Field: field, Reason: reason + " (" + sb.From.String() + ")"})
	}
	switch d := m.GetData().(type) {
	case *metricspb.Metric_Gauge:
		at.Data = "gauge"
		for i, p := range d.Gauge.GetDataPoints() {
			if noValue(p.GetFlags()) {
				continue
			}
			sb := point(p, i, p.GetTimeUnixNano())
			v, ok := numberValue(p)
			sb.Add("", schema.KindGauge, v, "", "")
			if !ok {
				refuse(sb, "value", "is required")
			}
		}
	case *metricspb.Metric_Sum:
		at.Data = "sum"
		monotonic := d.Sum.GetIsMonotonic()
		kind := schema.KindGauge
		if monotonic && cumulative(d.Sum.GetAggregationTemporality()) {
			kind = schema.KindCounter
		}
		for i, p := range d.Sum.GetDataPoints() {
			if noValue(p.GetFlags()) {
				continue
			}
			sb := point(p, i, p.GetTimeUnixNano())
			v, ok := numberValue(p)
			sb.Add("", kind, v, "", "")
			switch {
			case !ok:
				refuse(sb, "value", "is required")
			case monotonic && kind == schema.KindGauge && v < 0:
				// A delta of a sum that only grows; counters are checked
				// with every other sample.
				refuse(sb, "value", "must not be negative for a monotonic sum")
			}
		}
	case *metricspb.Metric_Histogram:
		at.Data = "histogram"
		kind := runningKind(d.Histogram.GetAggregationTemporality())
		for i, p := range d.Histogram.GetDataPoints() {
			if noValue(p.GetFlags()) {
				continue
			}
			sb := point(p, i, p.GetTimeUnixNano())
			count := float64(p.GetCount())
			sb.Histogram(kind, histogramBuckets(p), p.Sum, &count)
			if field, reason := badBuckets(p); field != "" {
				refuse(sb, field, reason)
			}
		}
	case *metricspb.Metric_ExponentialHistogram:
		at.Data = "exponentialHistogram"
		kind := runningKind(d.ExponentialHistogram.GetAggregationTemporality())
		for i, p := range d.ExponentialHistogram.GetDataPoints() {
			if noValue(p.GetFlags()) {
				continue
			}
			sb := point(p, i, p.GetTimeUnixNano())
			if p.Sum != nil {
				sb.Add("_sum", kind, p.GetSum(), "", "")
			}
			sb.Add("_count", kind, float64(p.GetCount()), "", "")
		}
	case *metricspb.Metric_Summary:
		at.Data = "summary"
		for i, p := range d.Summary.GetDataPoints() {
			if noValue(p.GetFlags()) {
				continue
			}
			quantiles := make([]samples.Quantile, len(p.GetQuantileValues()))
			for i, q := range p.GetQuantileValues() {
				quantiles[i] = samples.Quantile{Q: q.GetQuantile(), V: q.GetValue()}
			}
			sb := point(p, i, p.GetTimeUnixNano())
			sum, count := p.GetSum(), float64(p.GetCount())
			sb.Summary(quantiles, &sum, &count)
		}
	}
	return problems
}

// attrsSource is any OTLP data point: they all carry attributes.
type attrsSource interface {
	GetAttributes() []*commonpb.KeyValue
}

// histogramBuckets turns a histogram point's per-bucket counts into cumulative
// ones with their upper bounds; the last bucket, above every bound, is +Inf
// and left to histogram, which adds it from the count.
func histogramBuckets(p *metricspb.HistogramDataPoint) []samples.Bucket {
	bounds, counts := p.GetExplicitBounds(), p.GetBucketCounts()
	buckets := make([]samples.Bucket, 0, len(bounds))
	var cum float64
	for i, le := range bounds {
		if i < len(counts) {
			cum += float64(counts[i])
		}
		buckets = append(buckets, samples.Bucket{LE: le, Count: cum})
	}
	return buckets
}

// numberValue is a number point's value; ok is false when it has none.
func numberValue(p *metricspb.NumberDataPoint) (v float64, ok bool) {
	switch v := p.GetValue().(type) {
	case *metricspb.NumberDataPoint_AsInt:
		return float64(v.AsInt), true
	case *metricspb.NumberDataPoint_AsDouble:
		return v.AsDouble, true
	}
	return 0, false
}

// badBuckets reports what a histogram point breaks of OTLP's rule for its
// buckets: a count for each bound and one above them all, or no counts
// and no bounds; and counts that add up to the point's count.
func badBuckets(p *metricspb.HistogramDataPoint) (field, reason string) {
	bounds, counts := p.GetExplicitBounds(), p.GetBucketCounts()
	if len(counts) == 0 && len(bounds) == 0 {
		return "", ""
	}
	if len(counts) != len(bounds)+1 {
		return "bucketCounts", "must have one count more than explicitBounds has bounds"
	}
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total != p.GetCount() {
		return "count", "must be the sum of bucketCounts"
	}
	return "", ""
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
	if ms := millis(timeNano); ms != 0 {
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
