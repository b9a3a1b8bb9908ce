package samples

import (
	"fmt"
	"math"
	"strconv"

	"github.com/prometheus/common/model"

	"github.com/taskpulse/taskpulse/schema"
)

// Quantile is one quantile of a summary.
type Quantile struct{ Q, V float64 }

// Bucket is one histogram bucket: the count of observations up to LE.
type Bucket struct{ LE, Count float64 }

// Set is the samples of one request, and where each came from.
type Set struct {
	Samples []schema.Metric
	From    []Origin // From[i] is where Samples[i] came from
	Derived int      // samples made from no line of their own: implicit +Inf buckets
}

// Origin is where in its request a sample came from, for its errors: a
// line of Prometheus text, or an OTLP data point.
type Origin struct {
	Line int // Prometheus text, from 1
	// An OTLP data point: the indexes of its resource, scope, metric and
	// point, and its metric's data field.
	Resource, Scope, Metric, Point int
	Data                           string
}

func (o Origin) String() string {
	if o.Data == "" {
		return "line " + strconv.Itoa(o.Line)
	}
	return fmt.Sprintf("resourceMetrics[%d].scopeMetrics[%d].metrics[%d].%s.dataPoints[%d]", o.Resource, o.Scope, o.Metric, o.Data, o.Point)
}

// Validate checks every sample with schema.Metric.Validate, as JSON samples
// are checked. A problem names the sample's line or data point, and the
// series, which the sample's position alone would not tell; for
// Prometheus text its index is the line.
func (set *Set) Validate(now int64) []schema.FieldError {
	var problems []schema.FieldError
	for i := range set.Samples {
		for _, e := range set.Samples[i].Validate(now) {
			e.Index = i
			if set.From[i].Data == "" {
				e.Index = set.From[i].Line
			}
			e.Reason += " (" + set.From[i].String() + ", sample of " + set.Samples[i].Name + ")"
			problems = append(problems, e)
		}
	}
	return problems
}

// Builder appends the samples of one series (a name and its labels at one
// time) to Out, expanding summaries and histograms as Prometheus does.
type Builder struct {
	Name   string
	Labels map[string]string
	TS     int64
	Unit   string
	From   Origin
	Out    *Set
}

// Add appends one sample named Name+suffix, with the extra label k=lv when
// k is set. Every value is kept, NaN included, for validation to judge: a
// value left out here would be a sample dropped without a word.
func (b *Builder) Add(suffix string, kind schema.MetricKind, v float64, k, lv string) {
	labels := b.Labels
	if k != "" {
		labels = make(map[string]string, len(b.Labels)+1)
		for lk, lv := range b.Labels {
			labels[lk] = lv
		}
		labels[k] = lv
	}
	b.Out.Samples = append(b.Out.Samples, schema.Metric{
		Name: b.Name + suffix, Kind: kind, Value: v, Unit: b.Unit,
		Labels: labels, Timestamp: b.TS, TaskID: labels["task_id"],
	})
	b.Out.From = append(b.Out.From, b.From)
}

// Summary appends a gauge per quantile, and the counters _sum and _count
// when the client sent them.
func (b *Builder) Summary(quantiles []Quantile, sum, count *float64) {
	for _, q := range quantiles {
		b.Add("", schema.KindGauge, q.V, model.QuantileLabel, FormatFloat(q.Q))
	}
	if sum != nil {
		b.Add("_sum", schema.KindCounter, *sum, "", "")
	}
	if count != nil {
		b.Add("_count", schema.KindCounter, *count, "", "")
	}
}

// Histogram appends the cumulative buckets with their le label, the +Inf
// bucket when the client left it implicit, and _sum and _count when the
// client sent them, all of one kind: counters, as Prometheus has them,
// unless the values are not running totals.
func (b *Builder) Histogram(kind schema.MetricKind, buckets []Bucket, sum, count *float64) {
	inf := false
	for _, bk := range buckets {
		b.Add("_bucket", kind, bk.Count, model.BucketLabel, FormatFloat(bk.LE))
		inf = inf || math.IsInf(bk.LE, +1)
	}
	if !inf && count != nil {
		b.Add("_bucket", kind, *count, model.BucketLabel, FormatFloat(math.Inf(+1)))
		b.Out.Derived++
	}
	if sum != nil {
		b.Add("_sum", kind, *sum, "", "")
	}
	if count != nil {
		b.Add("_count", kind, *count, "", "")
	}
}

// FormatFloat writes a bound or a quantile as client_golang's text output
// does, so that le="0.25" and quantile="0.99" read the same as on the
// client's own /metrics page.
func FormatFloat(f float64) string {
	switch {
	case math.IsInf(f, +1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
