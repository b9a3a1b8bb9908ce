package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// OpenTelemetry clients, as applications and collectors run them, sent to
// TaskPulse with nothing but its address: they post to OTLP/HTTP's default
// paths, /v1/logs and /v1/metrics. deploy/otel-clients.sh installs them
// and names them in TASKPULSE_TELEMETRYGEN and TASKPULSE_OTEL_PYTHON.

// otelClient is the path the environment variable env gives to a client;
// without one the test is skipped, except in CI, where it fails.
func otelClient(t *testing.T, env string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is not set: install the OpenTelemetry clients with deploy/otel-clients.sh", env)
		}
		t.Skipf("%s is not set: install the OpenTelemetry clients with deploy/otel-clients.sh", env)
	}
	return path
}

// runClient runs a client to its end with the environment of the test
// less every OTEL_ variable, plus env. Its error quotes what it printed.
func runClient(t *testing.T, env []string, name string, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w:\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return nil
}

// waitMetric waits until a metric's samples at or after from, filtered by
// match and split by groupBy, reduce to want (group → value): agg count or
// sum adds up every one-minute bucket, last takes the newest.
func (s *server) waitMetric(t *testing.T, name, agg, match, groupBy string, from int64, want map[string]float64) {
	t.Helper()
	q := url.Values{"name": {name}, "agg": {agg}, "from": {fmt.Sprint(from)}, "step": {"60000"}, "group_by": {groupBy}}
	if match != "" {
		q.Set("match", match)
	}
	var got map[string]float64
	require.Eventually(t, func() bool {
		r := s.get(t, "", "/v1/metrics/series?"+q.Encode())
		require.Equal(t, http.StatusOK, r.status, r.body)
		got = map[string]float64{}
		for _, sr := range r.body["series"].([]any) {
			sr := sr.(map[string]any)
			group := fmt.Sprint(sr["labels"].(map[string]any)[groupBy])
			for _, p := range sr["points"].([]any) {
				v, ok := p.(map[string]any)["v"].(float64)
				switch {
				case !ok:
				case agg == "last":
					got[group] = v
				default:
					got[group] += v
				}
			}
		}
		return fmt.Sprint(got) == fmt.Sprint(want)
	}, 10*time.Second, 20*time.Millisecond, "%s %s %s: got %v, want %v", name, agg, match, got, want)
}

// attrs is a stored record's attributes.
func attrs(record map[string]any) map[string]any {
	a, _ := record["attributes"].(map[string]any)
	return a
}

// TestTelemetrygenSendsToDefaultPaths sends logs and metrics with the
// Collector's telemetrygen over OTLP/HTTP (protobuf), told only the
// server's address, and reads them back.
func TestTelemetrygenSendsToDefaultPaths(t *testing.T) {
	gen := otelClient(t, "TASKPULSE_TELEMETRYGEN")
	srv := startServer(t)
	from := time.Now().Add(-time.Minute).UnixMilli()
	endpoint := strings.TrimPrefix(srv.base, "http://")
	common := []string{"--otlp-endpoint", endpoint, "--otlp-http", "--otlp-insecure", "--rate", "0",
		"--service", "tg-worker", "--otlp-attributes", `deployment.environment="ci"`,
		"--telemetry-attributes", `task_id="tg-job"`, "--telemetry-attributes", `site="react.dev"`}

	require.NoError(t, runClient(t, nil, gen, append([]string{"logs", "--logs", "4", "--body", "fetched a page", "--severity-number", "17", "--severity-text", "Error"}, common...)...))
	logs := srv.waitLogs(t, "task_id=tg-job", 4)
	for _, l := range logs {
		require.Equal(t, "fetched a page", l["message"], l)
		require.Equal(t, "ERROR", l["level"], l)
		require.Equal(t, "tg-worker", l["source"], l)
		require.Equal(t, "tg-job", l["task_id"], l)
		a := attrs(l)
		require.Equal(t, "react.dev", a["site"], l)
		require.Equal(t, "ci", a["deployment.environment"], l)
		require.Equal(t, "tg-worker", a["service.name"], l)
	}

	require.NoError(t, runClient(t, nil, gen, append([]string{"metrics", "--metrics", "3", "--metric-type", "Sum", "--aggregation-temporality", "cumulative", "--otlp-metric-name", "tg.pages"}, common...)...))
	require.NoError(t, runClient(t, nil, gen, append([]string{"metrics", "--metrics", "3", "--metric-type", "Gauge", "--otlp-metric-name", "tg.queue"}, common...)...))
	// Each run's points are 0, 1, 2: a counter (monotonic and cumulative)
	// and a gauge.
	srv.waitMetric(t, "tg_pages", "count", "task_id=tg-job", "site", from, map[string]float64{"react.dev": 3})
	srv.waitMetric(t, "tg_pages", "last", "task_id=tg-job", "service.name", from, map[string]float64{"tg-worker": 2})
	srv.waitMetric(t, "tg_queue", "sum", "deployment.environment=ci", "task_id", from, map[string]float64{"tg-job": 3})
}

// sendWithPython runs deploy/otel/send.py with python for a task, with
// env, the exporters' configuration.
func sendWithPython(t *testing.T, python, task string, env ...string) error {
	t.Helper()
	return runClient(t, env, python, filepath.Join("..", "..", "deploy", "otel", "send.py"), task)
}

// TestOTelPythonSendsToDefaultPaths sends logs through Python's logging
// and metrics through the OpenTelemetry Python SDK (deploy/otel/send.py),
// exported by its OTLP/HTTP exporters configured by
// OTEL_EXPORTER_OTLP_ENDPOINT alone, and reads them back.
func TestOTelPythonSendsToDefaultPaths(t *testing.T) {
	python := otelClient(t, "TASKPULSE_OTEL_PYTHON")
	srv := startServer(t)
	from := time.Now().Add(-time.Minute).UnixMilli()
	require.NoError(t, sendWithPython(t, python, "py-job", "OTEL_EXPORTER_OTLP_ENDPOINT="+srv.base))

	logs := srv.waitLogs(t, "task_id=py-job", 3)
	want := []struct{ message, level string }{{"disk full", "ERROR"}, {"slow page", "WARNING"}, {"fetched 140 pages", "INFO"}}
	for i, l := range logs {
		require.Equal(t, want[i].message, l["message"], "newest first: %v", l)
		require.Equal(t, want[i].level, l["level"], l)
		require.Equal(t, "otel-python-worker", l["source"], l)
		a := attrs(l)
		require.Equal(t, "react.dev", a["site"], l)
		require.Equal(t, "ci", a["deployment.environment"], l)
		require.Equal(t, "scraper", a["otel.scope.name"], l)
		require.Equal(t, "python", a["telemetry.sdk.language"], l)
	}
	require.Equal(t, "2", attrs(logs[1])["attempt"])

	const match = "task_id=py-job"
	srv.waitMetric(t, "pages_fetched", "last", match, "site", from, map[string]float64{"react.dev": 140})
	srv.waitMetric(t, "fetch_duration_bucket", "last", match, "le", from, map[string]float64{"0.5": 1, "2": 3, "+Inf": 4})
	srv.waitMetric(t, "fetch_duration_count", "last", match, "otel.scope.name", from, map[string]float64{"scraper": 4})
	srv.waitMetric(t, "fetch_duration_sum", "last", match, "otel.scope.version", from, map[string]float64{"1.0.0": 5.7})
	srv.waitMetric(t, "queue_depth", "last", match, "service.name", from, map[string]float64{"otel-python-worker": 7})
}

// TestOTelPythonSendsCompressedWithAKey runs the same exporters against a
// server with API keys: refused without the key, stored for its tenant
// with it, gzip-compressed as the exporters' standard variables ask.
func TestOTelPythonSendsCompressedWithAKey(t *testing.T) {
	python := otelClient(t, "TASKPULSE_OTEL_PYTHON")
	srv := startServer(t, "--api-keys", keyA+"=acme")
	endpoint := "OTEL_EXPORTER_OTLP_ENDPOINT=" + srv.base
	err := sendWithPython(t, python, "py-keyed", endpoint)
	require.ErrorContains(t, err, "401")
	require.NoError(t, sendWithPython(t, python, "py-keyed", endpoint,
		"OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20"+keyA, "OTEL_EXPORTER_OTLP_COMPRESSION=gzip"))
	var last response
	require.Eventually(t, func() bool {
		last = srv.get(t, keyA, "/v1/logs?task_id=py-keyed")
		return last.status == http.StatusOK && len(last.body["logs"].([]any)) == 3
	}, 10*time.Second, 20*time.Millisecond, "%d %v", last.status, last.body)
}
