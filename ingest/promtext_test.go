package ingest

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/taskpulse/taskpulse/schema"
)

const testNow = int64(1_700_000_000_000)

// row writes a sample on one line, labels sorted, for exact comparison.
func row(m schema.Metric) string {
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

func rows(samples []schema.Metric) []string {
	out := make([]string, len(samples))
	for i, m := range samples {
		out[i] = row(m)
	}
	return out
}

// promTextFrom gathers reg and writes it as client_golang serves it.
func promTextFrom(t *testing.T, reg *prometheus.Registry, stamp map[string]int64) []byte {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	var buf bytes.Buffer
	for _, mf := range families {
		if ts, ok := stamp[mf.GetName()]; ok {
			for _, m := range mf.GetMetric() {
				m.TimestampMs = proto.Int64(ts)
			}
		}
		_, err := expfmt.MetricFamilyToText(&buf, mf)
		require.NoError(t, err)
	}
	return buf.Bytes()
}

func TestParsePromTextFromClientGolang(t *testing.T) {
	reg := prometheus.NewRegistry()
	jobs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jobs_done_total", Help: "Jobs done."}, []string{"queue", "task_id"})
	reg.MustRegister(jobs)
	jobs.WithLabelValues("fast", "t-1").Add(3)
	depth := prometheus.NewGauge(prometheus.GaugeOpts{Name: "queue_depth", Help: "Depth."})
	reg.MustRegister(depth)
	depth.Set(-2.5)
	latency := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "step_seconds", Help: "Step.", Buckets: []float64{0.1, 1}})
	reg.MustRegister(latency)
	for _, v := range []float64{0.05, 0.5, 3} {
		latency.Observe(v)
	}
	size := prometheus.NewSummary(prometheus.SummaryOpts{Name: "page_bytes", Help: "Size.", Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01}})
	reg.MustRegister(size)
	size.Observe(100)
	idle := prometheus.NewSummary(prometheus.SummaryOpts{Name: "idle_seconds", Help: "Never observed.", Objectives: map[float64]float64{0.5: 0.05}})
	reg.MustRegister(idle)

	body := promTextFrom(t, reg, map[string]int64{"queue_depth": 1_699_999_999_000})
	samples, err := parsePromText(body, testNow)
	require.NoError(t, err, string(body))
	require.Equal(t, []string{
		// An empty summary's quantiles are NaN, which is no value.
		"counter idle_seconds_sum{} 0 @1700000000000",
		"counter idle_seconds_count{} 0 @1700000000000",
		"counter jobs_done_total{queue=fast,task_id=t-1} 3 @1700000000000 task=t-1",
		"gauge page_bytes{quantile=0.5} 100 @1700000000000",
		"gauge page_bytes{quantile=0.9} 100 @1700000000000",
		"counter page_bytes_sum{} 100 @1700000000000",
		"counter page_bytes_count{} 1 @1700000000000",
		"gauge queue_depth{} -2.5 @1699999999000",
		"counter step_seconds_bucket{le=0.1} 1 @1700000000000",
		"counter step_seconds_bucket{le=1} 2 @1700000000000",
		"counter step_seconds_bucket{le=+Inf} 3 @1700000000000",
		"counter step_seconds_sum{} 3.55 @1700000000000",
		"counter step_seconds_count{} 3 @1700000000000",
	}, rows(samples))
	require.Empty(t, validateMetrics(samples, testNow))
}

func TestParsePromTextUntypedAndErrors(t *testing.T) {
	samples, err := parsePromText([]byte("# a comment\nrequests{path=\"/a\"} 7 1699999999123\n"), testNow)
	require.NoError(t, err)
	require.Equal(t, []string{"gauge requests{path=/a} 7 @1699999999123"}, rows(samples))

	f := func(body, wantReason string) {
		t.Helper()
		_, err := parsePromText([]byte(body), testNow)
		var fe schema.FieldError
		require.ErrorAs(t, err, &fe, body)
		require.Equal(t, "body", fe.Field)
		require.Contains(t, fe.Reason, wantReason, body)
	}
	f("ok 1\nbad{x=\"1\"} one\n", "line 2:")
	f("ok 1\nok 2\n# TYPE x counter\nx{a=\"1\" 3\n", "line 4:")
	f("http.requests 1\n", "line 1:")
	f("", "has no samples")
	f("# only a comment\n", "has no samples")
}
