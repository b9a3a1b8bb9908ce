package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"

	"github.com/taskpulse/taskpulse/schema"
)

// decodePromText parses and validates a body of Prometheus text. It
// returns an error when the body cannot be parsed, and otherwise every
// problem, each naming its line.
func decodePromText(body []byte, now int64) ([]schema.Metric, []schema.FieldError, error) {
	set, problems, err := parsePromText(body, now)
	if err != nil {
		return nil, nil, err
	}
	return set.samples, problems, nil
}

// parsePromText maps a body in the Prometheus text exposition format
// (version 0.0.4) to samples, the way a Prometheus scrape would store them:
// counters stay counters; gauges and untyped samples are gauges; a summary
// becomes a gauge per quantile (labelled quantile) plus counters _sum and
// _count; a histogram becomes counters _bucket (labelled le, cumulative),
// _sum and _count. A sample without a timestamp is given now.
//
// Families come out sorted by name, and samples within one in the order of
// the body, so that the event ids of the answer line up with something the
// client can reproduce. The samples are validated as JSON samples are, and
// a line that would make no sample is refused; each problem names its
// line.
func parsePromText(body []byte, now int64) (*sampleSet, []schema.FieldError, error) {
	// Legacy names only: they are the names schema.Metric accepts, and the
	// parser then reports a bad one with its line.
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, nil, promTextError(err)
	}
	if len(families) == 0 {
		return nil, nil, schema.FieldError{Field: "body", Reason: "has no samples"}
	}
	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	slices.Sort(names)
	set := &sampleSet{}
	summaries := false
	for _, name := range names {
		mf := families[name]
		summaries = summaries || mf.GetType() == dto.MetricType_SUMMARY
		for _, m := range mf.GetMetric() {
			ts := now
			if m.TimestampMs != nil {
				ts = m.GetTimestampMs()
			}
			sb := sampleBuilder{name: name, labels: promLabels(m.GetLabel()), ts: ts, out: set}
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
				var count *float64
				if s.SampleCount != nil {
					count = proto.Float64(float64(s.GetSampleCount()))
				}
				sb.summary(quantiles, s.SampleSum, count)
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				buckets := make([]bucket, len(h.GetBucket()))
				for i, b := range h.GetBucket() {
					buckets[i] = bucket{b.GetUpperBound(), float64(b.GetCumulativeCount()) + b.GetCumulativeCountFloat()}
				}
				var count *float64
				if h.SampleCount != nil || h.SampleCountFloat != nil {
					count = proto.Float64(float64(h.GetSampleCount()) + h.GetSampleCountFloat())
				}
				sb.histogram(schema.KindCounter, buckets, h.SampleSum, count)
			}
		}
	}
	// Tracing samples to lines costs as much as parsing, so a body is
	// traced only when it must be: when there is a problem to name, when
	// some line made no sample, or when a summary's _count must be read
	// as written.
	if problems := set.validate(now); len(problems) == 0 && !summaries && sampleLines(body) == len(set.samples)-set.derived {
		return set, nil, nil
	}
	problems := locatePromText(body, set, families)
	return set, append(problems, set.validate(now)...), nil
}

// sampleLines counts the lines of Prometheus text that are not comments
// or blank: each is a sample.
func sampleLines(body []byte) int {
	n := 0
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if line = bytes.TrimLeft(line, " \t"); len(line) > 0 && line[0] != '#' {
			n++
		}
	}
	return n
}

// promTextError words a parse error with its line, as a body error.
func promTextError(err error) error {
	var pe expfmt.ParseError
	if errors.As(err, &pe) {
		return schema.FieldError{Index: pe.Line, Field: "body", Reason: "is not valid Prometheus text: line " + strconv.Itoa(pe.Line) + ": " + pe.Msg}
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

// promLine is one sample line of Prometheus text, as written.
type promLine struct {
	n      int // from 1
	name   string
	labels []string // name, value, name, value...
	value  float64
	used   bool
}

// series is the lines of one series (a name and its labels), in order;
// next is the first not yet matched to a sample.
type series struct {
	lines []*promLine
	next  int
}

// locatePromText traces every sample back to the line it was read from,
// for its errors, and gives it the value written there: expfmt turns a
// summary's _count into an unsigned integer, and so reads -2 or NaN as
// some other number. It refuses the lines that made no sample, which
// expfmt drops without a word: a summary's sample without a quantile, a
// histogram's without an le, a series' _sum or _count given twice.
func locatePromText(body []byte, set *sampleSet, families map[string]*dto.MetricFamily) []schema.FieldError {
	bySeries := map[string]*series{}
	var lines []*promLine
	for n, text := range strings.Split(string(body), "\n") {
		l, ok := scanPromLine(text)
		if !ok {
			continue
		}
		l.n = n + 1
		lines = append(lines, l)
		k := seriesKey(l.name, l.labels...)
		if bySeries[k] == nil {
			bySeries[k] = &series{}
		}
		bySeries[k].lines = append(bySeries[k].lines, l)
	}
	next := func(key string, use bool) *promLine {
		sr := bySeries[key]
		if sr == nil || sr.next == len(sr.lines) {
			return nil
		}
		l := sr.lines[sr.next]
		if use {
			sr.next++
			l.used = true
		}
		return l
	}
	for i := range set.samples {
		m := &set.samples[i]
		l := next(seriesKeyOf(m.Name, m.Labels, ""), true)
		if base, ok := strings.CutSuffix(m.Name, "_bucket"); ok && l == nil {
			// expfmt takes a bucket written without _bucket, and the
			// +Inf bucket a histogram left implicit comes from its _count.
			if l = next(seriesKeyOf(base, m.Labels, ""), true); l == nil && m.Labels[model.BucketLabel] == "+Inf" {
				if l = next(seriesKeyOf(base+"_count", m.Labels, model.BucketLabel), false); l != nil {
					set.from[i].line = l.n
				}
				continue
			}
		}
		if l != nil {
			set.from[i].line, m.Value = l.n, l.value
		}
	}
	var problems []schema.FieldError
	for _, l := range lines {
		if l.used {
			continue
		}
		family, mf := promFamily(l.name, families)
		if mf == nil {
			continue // not a summary or a histogram: every such line is a sample
		}
		fe := schema.FieldError{Index: l.n, Field: "name"}
		if first := bySeries[seriesKey(l.name, l.labels...)].lines[0]; first != l {
			fe.Reason = "repeats the series of line " + strconv.Itoa(first.n) + ", whose value would be lost"
		} else if mf.GetType() == dto.MetricType_SUMMARY {
			fe.Field, fe.Reason = "labels", "must have a quantile label, as a sample of summary "+family+" other than "+family+"_sum and "+family+"_count"
		} else {
			fe.Reason = "must be " + family + "_bucket with an le label, " + family + "_sum or " + family + "_count, as a sample of histogram " + family
		}
		problems = append(problems, fe)
	}
	return problems
}

// promFamily finds the summary or histogram a line's name belongs to, as
// expfmt does.
func promFamily(name string, families map[string]*dto.MetricFamily) (string, *dto.MetricFamily) {
	for _, suffix := range []string{"", "_sum", "_count", "_bucket"} {
		base, ok := strings.CutSuffix(name, suffix)
		mf := families[base]
		if !ok || mf == nil {
			continue
		}
		switch mf.GetType() {
		case dto.MetricType_SUMMARY:
			if suffix != "_bucket" {
				return base, mf
			}
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			return base, mf
		}
		return "", nil
	}
	return "", nil
}

// scanPromLine reads a sample line of text that expfmt has accepted; ok
// is false for a comment or a blank line. The name may be quoted, or
// written inside the braces, as expfmt allows.
func scanPromLine(s string) (l *promLine, ok bool) {
	i := skipBlanks(s, 0)
	if i == len(s) || s[i] == '#' {
		return nil, false
	}
	l = &promLine{}
	if s[i] != '{' {
		l.name, i = promToken(s, i)
		i = skipBlanks(s, i)
	}
	if i < len(s) && s[i] == '{' {
		i++
		for {
			i = skipBlanks(s, i)
			if i >= len(s) {
				return nil, false
			}
			if s[i] == '}' {
				i++
				break
			}
			start := i
			var k string
			k, i = promToken(s, i)
			if i = skipBlanks(s, i); i < len(s) && s[i] == '=' {
				var v string
				if v, i, ok = promString(s, skipBlanks(s, i+1)); !ok {
					return nil, false
				}
				l.labels = append(l.labels, k, v)
			} else {
				l.name = k
			}
			if i = skipBlanks(s, i); i < len(s) && s[i] == ',' {
				i++
			}
			if i == start {
				return nil, false // not a line expfmt takes; never loop on it
			}
		}
	}
	i = skipBlanks(s, i)
	end := i
	for end < len(s) && s[end] != ' ' && s[end] != '\t' {
		end++
	}
	v, err := strconv.ParseFloat(s[i:end], 64)
	if err != nil {
		return nil, false
	}
	l.value = v
	return l, true
}

func skipBlanks(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// promToken reads a metric or label name, whose quoted parts may hold
// any character and escapes.
func promToken(s string, i int) (string, int) {
	var b strings.Builder
	quoted := false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			if quoted = !quoted; !quoted {
				return b.String(), i + 1
			}
			continue
		case quoted && c == '\\' && i+1 < len(s):
			i++
			if c = s[i]; c == 'n' {
				c = '\n'
			}
		case !quoted && !(c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'):
			return b.String(), i
		}
		b.WriteByte(c)
	}
	return b.String(), i
}

// promString reads a quoted label value.
func promString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", i, false
	}
	var b strings.Builder
	for i++; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), i + 1, true
		case c == '\\' && i+1 < len(s):
			i++
			if c = s[i]; c == 'n' {
				c = '\n'
			}
		}
		b.WriteByte(c)
	}
	return "", i, false
}

// seriesKey names a series by its name and label pairs, in any order;
// le and quantile, being numbers, are compared as numbers.
func seriesKey(name string, pairs ...string) string {
	kv := make([]string, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		k, v := pairs[i], pairs[i+1]
		if k == model.BucketLabel || k == model.QuantileLabel {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				v = formatFloat(f)
			}
		}
		kv = append(kv, k+"\xff"+v)
	}
	slices.Sort(kv)
	return name + "\x00" + strings.Join(kv, "\x00")
}

// seriesKeyOf is seriesKey of a sample's labels, leaving out skip.
func seriesKeyOf(name string, labels map[string]string, skip string) string {
	pairs := make([]string, 0, 2*len(labels))
	for k, v := range labels {
		if k != skip {
			pairs = append(pairs, k, v)
		}
	}
	return seriesKey(name, pairs...)
}

// quantile is one quantile of a summary.
type quantile struct{ q, v float64 }

// bucket is one histogram bucket: the count of observations up to le.
type bucket struct{ le, count float64 }

// sampleSet is the samples of one request, and where each came from.
type sampleSet struct {
	samples []schema.Metric
	from    []origin
	derived int // samples made from no line of their own: implicit +Inf buckets
}

// origin is where in its request a sample came from, for its errors: a
// line of Prometheus text, or an OTLP data point.
type origin struct {
	line int // Prometheus text, from 1
	// An OTLP data point: the indexes of its resource, scope, metric and
	// point, and its metric's data field.
	resource, scope, metric, point int
	data                           string
}

func (o origin) String() string {
	if o.data == "" {
		return "line " + strconv.Itoa(o.line)
	}
	return fmt.Sprintf("resourceMetrics[%d].scopeMetrics[%d].metrics[%d].%s.dataPoints[%d]", o.resource, o.scope, o.metric, o.data, o.point)
}

// validate checks every sample with schema.Metric.Validate, as JSON samples
// are checked. A problem names the sample's line or data point, and the
// series, which the sample's position alone would not tell; for
// Prometheus text its index is the line.
func (set *sampleSet) validate(now int64) []schema.FieldError {
	var problems []schema.FieldError
	for i := range set.samples {
		for _, e := range set.samples[i].Validate(now) {
			e.Index = i
			if set.from[i].data == "" {
				e.Index = set.from[i].line
			}
			e.Reason += " (" + set.from[i].String() + ", sample of " + set.samples[i].Name + ")"
			problems = append(problems, e)
		}
	}
	return problems
}

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
	from   origin
	out    *sampleSet
}

// add appends one sample named name+suffix, with the extra label k=v when k
// is set. Every value is kept, NaN included, for validation to judge: a
// value left out here would be a sample dropped without a word.
func (sb *sampleBuilder) add(suffix string, kind schema.MetricKind, v float64, k, lv string) {
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
	sb.out.samples = append(sb.out.samples, schema.Metric{
		Name: sb.name + suffix, Kind: kind, Value: v, Unit: sb.unit,
		Labels: labels, Timestamp: sb.ts, TaskID: taskID,
	})
	sb.out.from = append(sb.out.from, sb.from)
}

// summary appends a gauge per quantile, and the counters _sum and _count
// when the client sent them.
func (sb *sampleBuilder) summary(quantiles []quantile, sum, count *float64) {
	for _, q := range quantiles {
		sb.add("", schema.KindGauge, q.v, model.QuantileLabel, formatFloat(q.q))
	}
	if sum != nil {
		sb.add("_sum", schema.KindCounter, *sum, "", "")
	}
	if count != nil {
		sb.add("_count", schema.KindCounter, *count, "", "")
	}
}

// histogram appends the cumulative buckets with their le label, the +Inf
// bucket when the client left it implicit, and _sum and _count when the
// client sent them, all of one kind: counters, as Prometheus has them,
// unless the values are not running totals.
func (sb *sampleBuilder) histogram(kind schema.MetricKind, buckets []bucket, sum, count *float64) {
	inf := false
	for _, b := range buckets {
		sb.add("_bucket", kind, b.count, model.BucketLabel, formatFloat(b.le))
		inf = inf || math.IsInf(b.le, +1)
	}
	if !inf && count != nil {
		sb.add("_bucket", kind, *count, model.BucketLabel, formatFloat(math.Inf(+1)))
		sb.out.derived++
	}
	if sum != nil {
		sb.add("_sum", kind, *sum, "", "")
	}
	if count != nil {
		sb.add("_count", kind, *count, "", "")
	}
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
