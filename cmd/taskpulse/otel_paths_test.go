package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOTLPOnDefaultPathsKeepsEveryLimit posts OTLP exports to /v1/logs
// and /v1/metrics as a server with keys and a small body limit meets
// them: the key is checked first, a compressed export is read, and its
// size is judged after decompression.
func TestOTLPOnDefaultPathsKeepsEveryLimit(t *testing.T) {
	const limit = 64 << 10
	srv := startServer(t, "--body-limit", fmt.Sprint(limit), "--api-keys", keyA+"=acme")
	from := time.Now().Add(-time.Minute).UnixMilli()
	logs := fmt.Sprintf(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"gz-worker"}}]},
		"scopeLogs":[{"logRecords":[{"timeUnixNano":"%d","severityText":"WARN","body":{"stringValue":"compressed"},
		"attributes":[{"key":"task_id","value":{"stringValue":"gz-job"}}]}]}]}]}`, from*1e6)
	metrics := fmt.Sprintf(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"gz.depth","gauge":{"dataPoints":[
		{"timeUnixNano":"%d","asInt":"5","attributes":[{"key":"task_id","value":{"stringValue":"gz-job"}}]}]}}]}]}]}`, from*1e6)
	post := func(key, path string, headers map[string][]string, body []byte) (int, string) {
		t.Helper()
		if key != "" {
			headers["Authorization"] = []string{"Bearer " + key}
		}
		return rawDo(t, srv, http.MethodPost, path, headers, body)
	}
	gzJSON := func() map[string][]string {
		return map[string][]string{"Content-Type": {ctJSON}, "Content-Encoding": {"gzip"}}
	}

	status, answer := post("", "/v1/logs", gzJSON(), gzipped(t, []byte(logs)))
	require.Equal(t, http.StatusUnauthorized, status, answer)
	status, answer = post(keyA, "/v1/logs", gzJSON(), gzipped(t, []byte(logs)))
	require.Equal(t, http.StatusOK, status, answer)
	require.JSONEq(t, `{}`, answer)
	status, answer = post(keyA, "/v1/metrics", gzJSON(), gzipped(t, []byte(metrics)))
	require.Equal(t, http.StatusOK, status, answer)

	// Under the limit on the wire, far over it decoded.
	bomb := gzipped(t, append([]byte(`{"resourceLogs":[`), bytes.Repeat([]byte(" "), 10<<20)...))
	require.Less(t, len(bomb), limit)
	status, answer = post(keyA, "/v1/logs", gzJSON(), bomb)
	require.Equal(t, http.StatusRequestEntityTooLarge, status, answer)
	require.Contains(t, answer, "payload_too_large")
	status, answer = post(keyA, "/v1/metrics", map[string][]string{"Content-Type": {ctProto}}, make([]byte, limit+1))
	require.Equal(t, http.StatusRequestEntityTooLarge, status, answer)

	var last response
	require.Eventually(t, func() bool {
		last = srv.get(t, keyA, "/v1/logs?task_id=gz-job")
		return last.status == http.StatusOK && len(last.body["logs"].([]any)) == 1
	}, 10*time.Second, 20*time.Millisecond, "%d %v", last.status, last.body)
	l := last.body["logs"].([]any)[0].(map[string]any)
	require.Equal(t, "compressed", l["message"])
	require.Equal(t, "WARNING", l["level"])
	require.Equal(t, "gz-worker", l["source"])
	require.Eventually(t, func() bool {
		last = srv.get(t, keyA, fmt.Sprintf("/v1/metrics/series?name=gz_depth&agg=last&match=task_id%%3Dgz-job&from=%d", from))
		return last.status == http.StatusOK && strings.Contains(fmt.Sprint(last.body["series"]), "v:5")
	}, 10*time.Second, 20*time.Millisecond, "the gauge, stored for the key's tenant: %d %v", last.status, last.body)
}
