package ingest

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/taskpulse/taskpulse/schema"
)

// parsePromText maps a body in the Prometheus text exposition format
// (version 0.0.4) to samples, the way a Prometheus scrape would store them:
// counters stay counters; gauges and untyped samples are gauges; a summary
// becomes a gauge per quantile (labelled quantile) plus counters _sum and
// _count; a histogram becomes counters _bucket (labelled le, cumulative),
// _sum and _count. A sample without a timestamp is given now.
//
// Families come out sorted by name, and samples within one in the order of
// the body, so that the event ids of the answer line up with something the
// client can reproduce.
func parsePromText(body []byte, now int64) ([]schema.Metric, error) {
	// Legacy names only: they are the names schema.Metric accepts, and the
	// parser then reports a bad one with its line.
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, promTextError(err)
	}
	if len(families) == 0 {
		return nil, schema.FieldError{Field: "body", Reason: "has no samples"}
	}
	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	slices.Sort(names)
	var samples []schema.Metric
	for _, name := range names {
		mf := families[name]
		for _, m := range mf.GetMetric() {
			ts := now
			if m.TimestampMs != nil {
				ts = m.GetTimestampMs()
			}
			sb := sampleBuilder{name: name, labels: promLabels(m.GetLabel()), ts: ts, out: samples}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				sb.add("", schema.KindCounter, m.GetCounter().GetValue(), "", "")
			case dto.MetricType_GAUGE:
				sb.add("", schema.KindGauge, m.GetGauge().GetValue(), "", "")
			case dto.MetricType_UNTYPED:
				sb.add("", schema.KindGauge, m.GetUntyped().GetValue(), "", "")
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				quantiles := make([]quantile, len(s.GetQuantile()))
				for i, q := range s.GetQuantile() {
					quantiles[i] = quantile{q.GetQuantile(), q.GetValue()}
				}
				sb.summary(quantiles, s.GetSampleSum(), float64(s.GetSampleCount()))
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				buckets := make([]bucket, len(h.GetBucket()))
				for i, b := range h.GetBucket() {
					buckets[i] = bucket{b.GetUpperBound(), float64(b.GetCumulativeCount()) + b.GetCumulativeCountFloat()}
				}
				sb.histogram(schema.KindCounter, buckets, true, h.GetSampleSum(), float64(h.GetSampleCount())+h.GetSampleCountFloat())
			}
			samples = sb.out
		}
	}
	return samples, nil
}

// promTextError words a parse error with its line, as a body error.
func promTextError(err error) error {
	var pe expfmt.ParseError
	if errors.As(err, &pe) {
		return schema.FieldError{Field: "body", Reason: "is not valid Prometheus text: line " + strconv.Itoa(pe.Line) + ": " + pe.Msg}
	}
	return schema.FieldError{Field: "body", Reason: "is not valid Prometheus text: " + err.Error()}
}

func promLabels(pairs []*dto.LabelPair) map[string]string {
	if len(pairs) == 0 {
		return nil
	}
	labels := make(map[string]string, len(pairs))
	for _, p := range pairs {
		labels[p.GetName()] = p.GetValue()
	}
	return labels
}

// quantile is one quantile of a summary.
type quantile struct{ q, v float64 }

// bucket is one histogram bucket: the count of observations up to le.
type bucket struct{ le, count float64 }

// sampleBuilder appends the samples of one series (a name and its labels at
// one time) to out, expanding summaries and histograms as Prometheus does.
// The Prometheus text and OTLP adapters share it so that a histogram reads
// the same whichever way it came.
type sampleBuilder struct {
	name   string
	labels map[string]string
	ts     int64
	unit   string
	taskID string
	out    []schema.Metric
}

// add appends one sample named name+suffix, with the extra label k=v when k
// is set. NaN stands for "no value" in both protocols (a summary with no
// observations has NaN quantiles; Prometheus marks stale series with it),
// and the store keeps finite numbers only, so a NaN sample is left out.
func (sb *sampleBuilder) add(suffix string, kind schema.MetricKind, v float64, k, lv string) {
	if math.IsNaN(v) {
		return
	}
	labels := sb.labels
	if k != "" {
		labels = make(map[string]string, len(sb.labels)+1)
		for lk, lv := range sb.labels {
			labels[lk] = lv
		}
		labels[k] = lv
	}
	taskID := sb.taskID
	if taskID == "" {
		taskID = labels["task_id"]
	}
	sb.out = append(sb.out, schema.Metric{
		Name: sb.name + suffix, Kind: kind, Value: v, Unit: sb.unit,
		Labels: labels, Timestamp: sb.ts, TaskID: taskID,
	})
}

// summary appends a gauge per quantile, and the counters _sum and _count.
func (sb *sampleBuilder) summary(quantiles []quantile, sum, count float64) {
	for _, q := range quantiles {
		sb.add("", schema.KindGauge, q.v, model.QuantileLabel, formatFloat(q.q))
	}
	sb.add("_sum", schema.KindCounter, sum, "", "")
	sb.add("_count", schema.KindCounter, count, "", "")
}

// histogram appends the cumulative buckets with their le label, the +Inf
// bucket when the client left it implicit, and _sum (when hasSum) and
// _count, all of one kind: counters, as Prometheus has them, unless the
// values are not running totals.
func (sb *sampleBuilder) histogram(kind schema.MetricKind, buckets []bucket, hasSum bool, sum, count float64) {
	inf := false
	for _, b := range buckets {
		sb.add("_bucket", kind, b.count, model.BucketLabel, formatFloat(b.le))
		inf = inf || math.IsInf(b.le, +1)
	}
	if !inf {
		sb.add("_bucket", kind, count, model.BucketLabel, formatFloat(math.Inf(+1)))
	}
	if hasSum {
		sb.add("_sum", kind, sum, "", "")
	}
	sb.add("_count", kind, count, "", "")
}

// formatFloat writes a bound or a quantile as client_golang's text output
// does, so that le="0.25" and quantile="0.99" read the same as on the
// client's own /metrics page.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, +1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
