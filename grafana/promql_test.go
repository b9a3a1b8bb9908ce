package grafana_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	prommodel "github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/taskpulse/taskpulse/internal/app"
)

// TestPipelineQueriesOnRealMetrics checks every PromQL expression of the
// dashboards with promtool against what a real TaskPulse serves on
// /metrics: an all-in-one process is made to accept, refuse and rate-limit
// requests, hold a WebSocket and deliver an alert, its /metrics is scraped
// and linted (promtool check metrics), every metric an expression names
// must be in it, and a promtool unit test over the scraped series, each
// counter growing by its scraped value a minute, requires every
// expression to return samples.
func TestPipelineQueriesOnRealMetrics(t *testing.T) {
	promtool := promtoolPath(t)
	// One busy process's metrics, and those only a process on a Kafka bus
	// has.
	families := map[string]*dto.MetricFamily{}
	for _, capture := range [][]byte{scrapeBusyServer(t), scrapeKafkaIngest(t)} {
		lint := exec.Command(promtool, "check", "metrics")
		lint.Stdin = bytes.NewReader(capture)
		out, err := lint.CombinedOutput()
		require.NoError(t, err, "promtool check metrics:\n%s", out)

		parser := expfmt.NewTextParser(prommodel.UTF8Validation)
		parsed, err := parser.TextToMetricFamilies(bytes.NewReader(capture))
		require.NoError(t, err)
		for name, f := range parsed {
			if _, ok := families[name]; !ok {
				families[name] = f
			}
		}
	}

	exprs := pipelineExprs(t)
	require.NotEmpty(t, exprs)
	for _, e := range exprs {
		for _, name := range metricName.FindAllString(e, -1) {
			_, ok := families[name]
			if !ok {
				_, ok = families[histogramFamily.ReplaceAllString(name, "")]
			}
			require.True(t, ok, "%s is not on /metrics; expression:\n%s", name, e)
		}
	}

	testFile := filepath.Join(t.TempDir(), "pipeline_test.yml")
	raw, err := yaml.Marshal(unitTest(families, exprs))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(testFile, raw, 0o644))
	out, err := exec.Command(promtool, "test", "rules", testFile).CombinedOutput()
	require.NoError(t, err, "promtool test rules:\n%s", out)
}

var (
	metricName      = regexp.MustCompile(`taskpulse_\w+`)
	histogramFamily = regexp.MustCompile(`_(bucket|sum|count)$`)
)

func promtoolPath(t *testing.T) string {
	if p := os.Getenv("TASKPULSE_PROMTOOL"); p != "" {
		return p
	}
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("promtool is not installed; CI must check the pipeline dashboard's PromQL (deploy/promtool.sh)")
	}
	t.Skip("promtool is not installed (deploy/promtool.sh installs it)")
	return ""
}

// pipelineExprs are the dashboards' PromQL expressions with Grafana's
// interval variables set as for a 20-minute range.
func pipelineExprs(t *testing.T) []string {
	r := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "20m")
	var out []string
	for _, m := range models(t) {
		for _, p := range m.Panels {
			for _, q := range p.Targets {
				if q.Expr != "" {
					require.NotContains(t, r.Replace(q.Expr), "$", "%s: %s", m.UID, p.Title)
					out = append(out, r.Replace(q.Expr))
				}
			}
		}
	}
	return out
}

// The scraped process's API key and the webhook its alert rule notifies.
const (
	testKey   = "grafana-dashboards-key-0123"
	alertRule = `channels:
  hook:
    type: webhook
    url: %s
rules:
  - id: failed
    kind: task_failed
    severity: critical
    channels: [hook]
`
)

// scrapeBusyServer starts an all-in-one TaskPulse, makes every metric the
// pipeline dashboard reads appear, and returns its /metrics.
func scrapeBusyServer(t *testing.T) []byte {
	delivered := make(chan struct{}, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case delivered <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(hook.Close)
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	require.NoError(t, os.WriteFile(rules, []byte(fmt.Sprintf(alertRule, hook.URL)), 0o644))

	base := startServer(t, "--data-dir", dir, "--writer-wait", "20ms",
		"--api-keys", testKey+"=default", "--alert-rules", rules,
		"--query-rate", "1", "--query-burst", "1")

	// A WebSocket held open through the scrape; it takes the query burst.
	header := http.Header{"Authorization": {"Bearer " + testKey}}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/v1/stream?all=true", header)
	require.NoError(t, err)
	t.Cleanup(func() { ws.Close() })

	post := func(path, body string) int { return status(t, base, http.MethodPost, path, testKey, body) }
	require.Equal(t, http.StatusAccepted, post("/v1/progress", `[{"task_id":"t1","task_type":"build","status":"running","progress":10},{"task_id":"t1","task_type":"build","status":"failed","error":"boom"}]`))
	require.Equal(t, http.StatusAccepted, post("/v1/logs", `{"level":"ERROR","message":"boom","task_id":"t1","source":"builder"}`))
	require.Equal(t, http.StatusAccepted, post("/v1/metrics", `{"name":"queue_depth","value":3,"labels":{"host":"w1"}}`))
	require.Equal(t, http.StatusBadRequest, post("/v1/progress", `{"task_id":"t2","status":"sleeping"}`))
	require.Equal(t, http.StatusUnauthorized, status(t, base, http.MethodGet, "/v1/tasks", "not-the-key-0123456789", ""))
	require.Eventually(t, func() bool {
		return status(t, base, http.MethodGet, "/v1/tasks", testKey, "") == http.StatusTooManyRequests
	}, 10*time.Second, 10*time.Millisecond, "the query rate limit never refused a request")
	select {
	case <-delivered:
	case <-time.After(30 * time.Second):
		t.Fatal("the failed task's alert was never delivered to the webhook")
	}

	var capture []byte
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		capture, err = io.ReadAll(resp.Body)
		require.NoError(t, err)
		return bytes.Contains(capture, []byte(`taskpulse_writer_records_total{`)) &&
			bytes.Contains(capture, []byte(`taskpulse_alerting_delivery_attempts_total{`))
	}, 30*time.Second, 50*time.Millisecond, "the writer and the alert delivery never showed on /metrics")
	return capture
}

// scrapeKafkaIngest starts an ingest on the Kafka bus and returns its
// /metrics, which hold the metrics only a Kafka bus has.
func scrapeKafkaIngest(t *testing.T) []byte {
	brokers := os.Getenv("TASKPULSE_KAFKA_BROKERS")
	if brokers == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TASKPULSE_KAFKA_BROKERS is not set; CI must check the pipeline dashboard's Kafka panels (deploy/kafka.sh start)")
		}
		t.Skip("TASKPULSE_KAFKA_BROKERS is not set")
	}
	base := startServer(t, "--data-dir", t.TempDir(), "--services", "ingest", "--api-keys", testKey+"=default",
		"--bus", "kafka", "--kafka-brokers", brokers, "--kafka-topic-prefix", fmt.Sprintf("grafana-%d-", time.Now().UnixNano()))
	// An event makes the topics exist, which the lag is read from.
	require.Equal(t, http.StatusAccepted, status(t, base, http.MethodPost, "/v1/progress", testKey, `{"task_id":"t1","status":"running"}`))
	var capture []byte
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		capture, err = io.ReadAll(resp.Body)
		require.NoError(t, err)
		return bytes.Contains(capture, []byte(`taskpulse_bus_lag_records{`))
	}, 30*time.Second, 50*time.Millisecond, "the Kafka lag never showed on /metrics")
	return capture
}

// startServer runs TaskPulse in this process with args on a free port
// until the test ends, and returns its base URL once it is ready.
func startServer(t *testing.T, args ...string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var s app.Settings
	s.RegisterFlags(fs)
	require.NoError(t, s.Parse(fs, append([]string{"--listen", ln.Addr().String()}, args...)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, &s, ln, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	base := "http://" + ln.Addr().String()
	require.Eventually(t, func() bool { return status(t, base, http.MethodGet, "/readyz", "", "") == http.StatusOK },
		30*time.Second, 20*time.Millisecond)
	return base
}

// status sends a request and returns the answer's status code, or 0 when
// none came (the server is not up yet).
func status(t *testing.T, base, method, path, key, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// The promtool unit test file (promtool test rules).
type (
	promUnitFile struct {
		EvaluationInterval string         `yaml:"evaluation_interval"`
		Tests              []promUnitTest `yaml:"tests"`
	}
	promUnitTest struct {
		Interval    string         `yaml:"interval"`
		InputSeries []promSeries   `yaml:"input_series"`
		ExprTests   []promExprTest `yaml:"promql_expr_test"`
	}
	promSeries struct {
		Series string `yaml:"series"`
		Values string `yaml:"values"`
	}
	promExprTest struct {
		Expr       string       `yaml:"expr"`
		EvalTime   string       `yaml:"eval_time"`
		ExpSamples []promSample `yaml:"exp_samples"`
	}
	promSample struct {
		Labels string  `yaml:"labels"`
		Value  float64 `yaml:"value"`
	}
)

// unitTest turns the scraped series into 20 minutes of input, a counter
// (and a histogram's buckets, sum and count) growing by its scraped value
// each minute and a gauge holding it, and requires each expression to
// return at least one sample at the end.
func unitTest(families map[string]*dto.MetricFamily, exprs []string) promUnitFile {
	var series []promSeries
	add := func(name string, labels []*dto.LabelPair, extra map[string]string, v float64, grows bool) {
		pairs := map[string]string{}
		for _, l := range labels {
			pairs[l.GetName()] = l.GetValue()
		}
		for k, x := range extra {
			pairs[k] = x
		}
		keys := slices.Sorted(maps.Keys(pairs))
		sel := make([]string, len(keys))
		for i, k := range keys {
			sel[i] = k + "=" + strconv.Quote(pairs[k])
		}
		step := "0"
		start := num(v)
		if grows {
			start, step = "0", num(v)
		}
		series = append(series, promSeries{Series: name + "{" + strings.Join(sel, ",") + "}", Values: start + "+" + step + "x20"})
	}
	for _, name := range slices.Sorted(maps.Keys(families)) {
		f := families[name]
		for _, m := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				add(name, m.GetLabel(), nil, m.GetCounter().GetValue(), true)
			case dto.MetricType_GAUGE:
				add(name, m.GetLabel(), nil, m.GetGauge().GetValue(), false)
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					add(name+"_bucket", m.GetLabel(), map[string]string{"le": num(b.GetUpperBound())}, float64(b.GetCumulativeCount()), true)
				}
				add(name+"_bucket", m.GetLabel(), map[string]string{"le": "+Inf"}, float64(h.GetSampleCount()), true)
				add(name+"_sum", m.GetLabel(), nil, h.GetSampleSum(), true)
				add(name+"_count", m.GetLabel(), nil, float64(h.GetSampleCount()), true)
			case dto.MetricType_SUMMARY:
				add(name+"_sum", m.GetLabel(), nil, m.GetSummary().GetSampleSum(), true)
				add(name+"_count", m.GetLabel(), nil, float64(m.GetSummary().GetSampleCount()), true)
			default:
				add(name, m.GetLabel(), nil, m.GetUntyped().GetValue(), false)
			}
		}
	}
	test := promUnitTest{Interval: "1m", InputSeries: series}
	for _, e := range exprs {
		test.ExprTests = append(test.ExprTests, promExprTest{
			Expr:       "(count(" + e + ") > bool 0) or vector(0)",
			EvalTime:   "20m",
			ExpSamples: []promSample{{Labels: "{}", Value: 1}},
		})
	}
	return promUnitFile{EvaluationInterval: "1m", Tests: []promUnitTest{test}}
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// TestPrometheusConfigIsValid checks the scrape config docker compose
// gives Prometheus with promtool.
func TestPrometheusConfigIsValid(t *testing.T) {
	out, err := exec.Command(promtoolPath(t), "check", "config", filepath.Join("prometheus", "prometheus.yml")).CombinedOutput()
	require.NoError(t, err, "promtool check config:\n%s", out)
}
