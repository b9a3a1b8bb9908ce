package promtext

import (
	"bytes"
	"errors"
	"mime"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"

	"github.com/taskpulse/taskpulse/ingest/internal/samples"
	"github.com/taskpulse/taskpulse/schema"
)

// IsContentType reports whether a Content-Type names the Prometheus text
// format. Scrapers send text/plain with version=0.0.4, or no version.
func IsContentType(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "text/plain" {
		return false
	}
	v, ok := params["version"]
	return !ok || v == "0.0.4"
}

// Parse maps a body in the Prometheus text exposition format (version
// 0.0.4) to samples, the way a Prometheus scrape would store them:
// counters stay counters; gauges and untyped samples are gauges; a summary
// becomes a gauge per quantile (labelled quantile) plus counters _sum and
// _count; a histogram becomes counters _bucket (labelled le, cumulative),
// _sum and _count. A sample without a timestamp is given now, in
// milliseconds.
//
// Families come out sorted by name, and samples within one in the order of
// the body, so that the event ids of the answer line up with something the
// client can reproduce. The samples are validated as JSON samples are, and
// a line that would make no sample is refused; each problem names its
// line. A body that cannot be parsed at all is an error, a
// schema.FieldError of the body naming the line.
func Parse(body []byte, now int64) ([]schema.Metric, []schema.FieldError, error) {
	set, problems, err := parse(body, now)
	if err != nil {
		return nil, nil, err
	}
	return set.Samples, problems, nil
}

// parse is Parse, returning the samples with where each came from.
func parse(body []byte, now int64) (*samples.Set, []schema.FieldError, error) {
	// Legacy names only: they are the names schema.Metric accepts, and the
	// parser then reports a bad one with its line.
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, nil, parseError(err)
	}
	if len(families) == 0 {
		return nil, nil, schema.FieldError{Field: "body", Reason: "has no samples"}
	}
	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	slices.Sort(names)
	set := &samples.Set{}
	summaries := false
	for _, name := range names {
		mf := families[name]
		summaries = summaries || mf.GetType() == dto.MetricType_SUMMARY
		for _, m := range mf.GetMetric() {
			ts := now
			if m.TimestampMs != nil {
				ts = m.GetTimestampMs()
			}
			sb := samples.Builder{Name: name, Labels: promLabels(m.GetLabel()), TS: ts, Out: set}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				sb.Add("", schema.KindCounter, m.GetCounter().GetValue(), "", "")
			case dto.MetricType_GAUGE:
				sb.Add("", schema.KindGauge, m.GetGauge().GetValue(), "", "")
			case dto.MetricType_UNTYPED:
				sb.Add("", schema.KindGauge, m.GetUntyped().GetValue(), "", "")
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				quantiles := make([]samples.Quantile, len(s.GetQuantile()))
				for i, q := range s.GetQuantile() {
					quantiles[i] = samples.Quantile{Q: q.GetQuantile(), V: q.GetValue()}
				}
				var count *float64
				if s.SampleCount != nil {
					count = proto.Float64(float64(s.GetSampleCount()))
				}
				sb.Summary(quantiles, s.SampleSum, count)
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				buckets := make([]samples.Bucket, len(h.GetBucket()))
				for i, b := range h.GetBucket() {
					buckets[i] = samples.Bucket{LE: b.GetUpperBound(), Count: float64(b.GetCumulativeCount()) + b.GetCumulativeCountFloat()}
				}
				var count *float64
				if h.SampleCount != nil || h.SampleCountFloat != nil {
					count = proto.Float64(float64(h.GetSampleCount()) + h.GetSampleCountFloat())
				}
				sb.Histogram(schema.KindCounter, buckets, h.SampleSum, count)
			}
		}
	}
	// Tracing samples to lines costs as much as parsing, so a body is
	// traced only when it must be: when there is a problem to name, when
	// some line made no sample, or when a summary's _count must be read
	// as written.
	if problems := set.Validate(now); len(problems) == 0 && !summaries && sampleLines(body) == len(set.Samples)-set.Derived {
		return set, nil, nil
	}
	problems := locate(body, set, families)
	return set, append(problems, set.Validate(now)...), nil
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

// parseError words a parse error with its line, as a body error.
func parseError(err error) error {
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

// locate traces every sample back to the line it was read from,
// for its errors, and gives it the value written there: expfmt turns a
// summary's _count into an unsigned integer, and so reads -2 or NaN as
// some other number. It refuses the lines that made no sample, which
// expfmt drops without a word: a summary's sample without a quantile, a
// histogram's without an le, a series' _sum or _count given twice.
func locate(body []byte, set *samples.Set, families map[string]*dto.MetricFamily) []schema.FieldError {
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
	for i := range set.Samples {
		m := &set.Samples[i]
		l := next(seriesKeyOf(m.Name, m.Labels, ""), true)
		if base, ok := strings.CutSuffix(m.Name, "_bucket"); ok && l == nil {
			// expfmt takes a bucket written without _bucket, and the
			// +Inf bucket a histogram left implicit comes from its _count.
			if l = next(seriesKeyOf(base, m.Labels, ""), true); l == nil && m.Labels[model.BucketLabel] == "+Inf" {
				if l = next(seriesKeyOf(base+"_count", m.Labels, model.BucketLabel), false); l != nil {
					set.From[i].Line = l.n
				}
				continue
			}
		}
		if l != nil {
			set.From[i].Line, m.Value = l.n, l.value
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
				v = samples.FormatFloat(f)
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
