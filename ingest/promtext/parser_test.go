package promtext

import (
	"bytes"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/taskpulse/taskpulse/ingest/internal/ingesttest"
	"github.com/taskpulse/taskpulse/schema"
)

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

	body := promTextFrom(t, reg, map[string]int64{"queue_depth": 1_699_999_999_000})
	set, problems, err := parse(body, ingesttest.Now)
	require.NoError(t, err, string(body))
	require.Empty(t, problems)
	require.Equal(t, []string{
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
	}, ingesttest.Rows(set.Samples))
	require.Empty(t, set.Validate(ingesttest.Now))
	// Every sample names its own line, the implicit +Inf bucket its _count's.
	lines := strings.Split(string(body), "\n")
	for i, m := range set.Samples {
		line := lines[set.From[i].Line-1]
		require.True(t, strings.HasPrefix(line, m.Name) || strings.HasPrefix(line, m.Name[:len(m.Name)-len("bucket")]+"count"), "%s from %q", m.Name, line)
	}
}

func TestParsePromTextUntypedAndErrors(t *testing.T) {
	set, problems, err := parse([]byte("# a comment\nrequests{path=\"/a\"} 7 1699999999123\n"), ingesttest.Now)
	require.NoError(t, err)
	require.Empty(t, problems)
	require.Equal(t, []string{"gauge requests{path=/a} 7 @1699999999123"}, ingesttest.Rows(set.Samples))

	f := func(body, wantReason string) {
		t.Helper()
		_, _, err := parse([]byte(body), ingesttest.Now)
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

func promFamilies(t testing.TB, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err)
	return families
}

// TestParsePromTextNamesLines pins that every sample is traced to its line,
// whatever way expfmt allows a line to be written, and that lines expfmt
// would drop, or _sum and _count the body never had, are not taken
// silently.
func TestParsePromTextNamesLines(t *testing.T) {
	body := []byte("# TYPE a counter\n\n" +
		"a{x=\"1\",y=\"q\\\"\\\\\\n\"} 1\n" +
		"{\"a\", x=\"2\"} 2\n" +
		"  a\t{ y = \"z\" , } 3 1700000000000\n" +
		"# TYPE h histogram\n" +
		"h_bucket{le=\"0.50\"} 1\n" +
		"h{le=\"1e0\"} 2\n")
	set, problems, err := parse(body, ingesttest.Now)
	require.NoError(t, err)
	require.Empty(t, problems)
	// A clean body is traced to its lines only when asked.
	require.Empty(t, locate(body, set, promFamilies(t, body)))
	// Only what was sent: no _sum, no _count, no +Inf bucket made from
	// a count the body does not have.
	require.Equal(t, []string{
		"counter a{x=1,y=q\"\\\n} 1 @1700000000000",
		"counter a{x=2} 2 @1700000000000",
		"counter a{y=z} 3 @1700000000000",
		"counter h_bucket{le=0.5} 1 @1700000000000",
		"counter h_bucket{le=1} 2 @1700000000000",
	}, ingesttest.Rows(set.Samples))
	var lines []int
	for _, o := range set.From {
		lines = append(lines, o.Line)
	}
	require.Equal(t, []int{3, 4, 5, 7, 8}, lines)

	f := func(body string, want schema.FieldError) {
		t.Helper()
		_, problems, err := parse([]byte(body), ingesttest.Now)
		require.NoError(t, err, body)
		require.Len(t, problems, 1, "%s: %v", body, problems)
		require.Equal(t, want.Index, problems[0].Index, body)
		require.Equal(t, want.Field, problems[0].Field, body)
		require.Contains(t, problems[0].Reason, want.Reason, body)
	}
	f("# TYPE s summary\ns{quantile=\"0.5\"} 1\ns{a=\"b\"} 9\ns_sum 1\ns_count 1\n",
		schema.FieldError{Index: 3, Field: "labels", Reason: "must have a quantile label"})
	f("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket 1\nh_count 1\n",
		schema.FieldError{Index: 3, Field: "name", Reason: "must be h_bucket with an le label"})
	f("# TYPE s summary\ns_sum 1\ns_count 1\ns_sum 2\n",
		schema.FieldError{Index: 4, Field: "name", Reason: "repeats the series of line 2"})
}

// FuzzParsePromText checks that whatever body expfmt parses, every sample
// ingest would store is traced to a line of it.
func FuzzParsePromText(f *testing.F) {
	f.Add("# TYPE a counter\na{x=\"1\"} 1\n{\"a\",y=\"2\"} 2 1700000000000\n")
	f.Add("# TYPE s summary\ns{quantile=\"0.5\",q=\"\\\\\"} NaN\ns_sum 1\ns_count -1\ns{a=\"b\"} 3\n")
	f.Add("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\nh_bucket 4\n")
	f.Add("# HELP x_sum a\nx_sum 1\n# TYPE x summary\nx_count 2\n")
	f.Fuzz(func(t *testing.T, body string) {
		set, problems, err := parse([]byte(body), ingesttest.Now)
		if err != nil || len(problems) > 0 {
			return
		}
		require.Empty(t, locate([]byte(body), set, promFamilies(t, []byte(body))), body)
		lines := strings.Split(body, "\n")
		for i, m := range set.Samples {
			n := set.From[i].Line
			require.True(t, n >= 1 && n <= len(lines), "sample %s of no line in %q", m.Name, body)
		}
	})
}
