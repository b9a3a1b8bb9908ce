package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/app"
)

func TestProgressFlowsFromHTTPToQueryAndWebSocket(t *testing.T) {
	srv := startServer(t)
	ws := srv.dial(t, "", "task_id=job-1")
	snap := ws.next(t, "snapshot")
	require.Empty(t, snap["tasks"])

	steps := []struct {
		status   string
		progress int
	}{{"running", 10}, {"running", 50}, {"running", 90}, {"completed", 100}}
	for i, s := range steps {
		r := srv.post(t, "", event("job-1", i+1, s.status, s.progress))
		require.Equal(t, http.StatusAccepted, r.status, r.body)
		require.Equal(t, float64(1), r.body["accepted"])
	}
	for i, s := range steps {
		msg := ws.next(t, "progress")
		ev := msg["event"].(map[string]any)
		require.Equal(t, "job-1", ev["task_id"])
		require.Equal(t, float64(i+1), ev["seq"], "events arrive in order")
		require.Equal(t, float64(s.progress), ev["progress"])
		require.NotContains(t, ev, "tenant", "the tenant is not echoed to clients")
	}

	task := srv.waitTask(t, "", "job-1", "completed", len(steps))
	require.Equal(t, float64(100), task["progress"])
	require.Equal(t, "create_skill", task["task_type"])
	require.Contains(t, task, "started_at")
	require.Contains(t, task, "duration_ms")

	list := srv.get(t, "", "/v1/tasks?status=completed&user_id=u1")
	require.Equal(t, http.StatusOK, list.status)
	require.Len(t, list.body["tasks"], 1)

	events := srv.get(t, "", "/v1/tasks/job-1/events?limit=3")
	require.Equal(t, http.StatusOK, events.status)
	page := events.body["events"].([]any)
	require.Len(t, page, 3)
	require.Equal(t, float64(1), page[0].(map[string]any)["seq"])
	next := events.body["next_cursor"].(string)
	require.NotEmpty(t, next)
	rest := srv.get(t, "", "/v1/tasks/job-1/events?cursor="+next)
	require.Len(t, rest.body["events"], 1)
	require.Equal(t, float64(4), rest.body["events"].([]any)[0].(map[string]any)["seq"])

	// A new subscriber starts from the snapshot of the current state.
	late := srv.dial(t, "", "all=true")
	snap = late.next(t, "snapshot")
	tasks := snap["tasks"].([]any)
	require.Len(t, tasks, 1)
	require.Equal(t, "completed", tasks[0].(map[string]any)["status"])
}

func TestIngestRejectsBadInputAndStoresNothingOfIt(t *testing.T) {
	srv := startServer(t, "--body-limit", "4096")
	valid := event("good", 1, "running", 10)
	f := func(name, contentType, body string, wantStatus int, wantCode string, wantIndex int, wantField string) {
		t.Helper()
		r := srv.do(t, http.MethodPost, "/v1/progress", "", contentType, body)
		require.Equal(t, wantStatus, r.status, "%s: %v", name, r.body)
		e := r.body["error"].(map[string]any)
		require.Equal(t, wantCode, e["code"], name)
		require.NotEmpty(t, e["message"], name)
		if wantField == "" {
			return
		}
		details := e["details"].([]any)
		found := false
		for _, d := range details {
			d := d.(map[string]any)
			if d["index"] == float64(wantIndex) && d["field"] == wantField {
				found = true
			}
		}
		require.True(t, found, "%s: want item %d field %s in %v", name, wantIndex, wantField, details)
	}
	const js, nd = "application/json", "application/x-ndjson"
	f("missing task_id", js, `{"status":"running"}`, 400, "validation_failed", 0, "task_id")
	f("missing status", js, `{"task_id":"a"}`, 400, "validation_failed", 0, "status")
	f("bad status", js, `{"task_id":"a","status":"done"}`, 400, "validation_failed", 0, "status")
	f("progress over 100", js, `{"task_id":"a","status":"running","progress":101}`, 400, "validation_failed", 0, "progress")
	f("negative progress", js, `{"task_id":"a","status":"running","progress":-1}`, 400, "validation_failed", 0, "progress")
	f("long task_id", js, `{"task_id":"`+strings.Repeat("x", 300)+`","status":"running"}`, 400, "validation_failed", 0, "task_id")
	f("timestamp in seconds", js, `{"task_id":"a","status":"running","timestamp":1700000000}`, 400, "validation_failed", 0, "timestamp")
	f("timestamp far ahead", js, `{"task_id":"a","status":"running","timestamp":99999999999999}`, 400, "validation_failed", 0, "timestamp")
	f("steps beyond total", js, `{"task_id":"a","status":"running","steps_done":5,"steps_total":4}`, 400, "validation_failed", 0, "steps_done")
	f("unknown field", js, `{"task_id":"a","status":"running","progres":5}`, 400, "validation_failed", 0, "progres")
	f("wrong type", js, `{"task_id":"a","status":"running","progress":"5"}`, 400, "validation_failed", 0, "progress")
	f("tenant in body", js, `{"task_id":"a","status":"running","tenant":"other"}`, 400, "validation_failed", 0, "tenant")
	f("second item bad", js, progressBody(valid, `{"task_id":"b","status":"nope"}`), 400, "validation_failed", 1, "status")
	f("malformed JSON", js, `{"task_id":`, 400, "invalid_json", 0, "body")
	f("malformed array item", js, `[`+valid+`,{"task_id":}]`, 400, "invalid_json", 1, "body")
	f("malformed NDJSON line", nd, valid+"\n{oops}\n", 400, "invalid_json", 1, "body")
	f("empty body", js, ``, 400, "invalid_json", 0, "body")
	f("empty array", js, `[]`, 400, "invalid_json", 0, "body")
	f("not UTF-8", nd, valid+"\n{\"task_id\":\"a\xff\",\"status\":\"running\"}\n", 400, "invalid_json", 1, "body")
	f("not an object", js, `[1]`, 400, "validation_failed", 0, "body")
	f("wrong content type", "text/plain", valid, 415, "unsupported_media_type", 0, "")
	f("no content type", "", valid, 415, "unsupported_media_type", 0, "")
	f("body over the limit", js, progressBody(strings.Repeat(valid+",", 40)+valid), 413, "payload_too_large", 0, "")

	// The good item of the rejected mixed request ("good") must not be
	// stored: post a marker and wait for it, by then "good" would be there.
	require.Equal(t, http.StatusAccepted, srv.post(t, "", event("marker", 1, "running", 1)).status)
	srv.waitTask(t, "", "marker", "running", 1)
	require.Equal(t, http.StatusNotFound, srv.get(t, "", "/v1/tasks/good").status)
	list := srv.get(t, "", "/v1/tasks")
	require.Len(t, list.body["tasks"], 1)

	// NDJSON and client-chosen event ids are accepted and kept.
	r := srv.do(t, http.MethodPost, "/v1/progress?event_ids=true", "", nd,
		`{"task_id":"nd","status":"running","event_id":"client-id-1"}`+"\n"+`{"task_id":"nd","status":"paused"}`+"\n")
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	require.Equal(t, "client-id-1", r.body["event_ids"].([]any)[0])
	srv.waitTask(t, "", "nd", "paused", 2)
}

func TestQueryRejectsBadParameters(t *testing.T) {
	srv := startServer(t)
	f := func(path, param string) {
		t.Helper()
		r := srv.get(t, "", path)
		require.Equal(t, http.StatusBadRequest, r.status, path)
		e := r.body["error"].(map[string]any)
		require.Equal(t, "invalid_parameter", e["code"], path)
		require.Equal(t, param, e["details"].([]any)[0].(map[string]any)["parameter"], path)
	}
	f("/v1/tasks?status=bogus", "status")
	f("/v1/tasks?limit=0", "limit")
	f("/v1/tasks?limit=5000", "limit")
	f("/v1/tasks?limit=x", "limit")
	f("/v1/tasks?updated_since=yesterday", "updated_since")
	f("/v1/tasks?updated_since=2000&updated_until=1000", "updated_until")
	f("/v1/tasks?cursor=garbage", "cursor")
	f("/v1/tasks?colour=red", "colour")
	f("/v1/tasks?user_id=a&user_id=b", "user_id")
	f("/v1/tasks/x/events?limit=-1", "limit")

	r := srv.get(t, "", "/v1/tasks/nope")
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, "not_found", r.body["error"].(map[string]any)["code"])
	require.Equal(t, http.StatusNotFound, srv.get(t, "", "/v1/tasks/nope/events").status)
	require.Equal(t, http.StatusNotFound, srv.get(t, "", "/v1/nothing").status)
}

func TestTenantsSeeOnlyTheirOwnTasks(t *testing.T) {
	srv := startServer(t, "--api-keys", keyA+"=acme,"+keyB+"=globex")
	wsA := srv.dial(t, keyA, "all=true")
	wsB := srv.dial(t, keyB, "all=true")
	wsA.next(t, "snapshot")
	wsB.next(t, "snapshot")

	require.Equal(t, http.StatusUnauthorized, srv.post(t, "", event("x", 1, "running", 1)).status)
	require.Equal(t, http.StatusUnauthorized, srv.post(t, "wrong", event("x", 1, "running", 1)).status)
	require.Equal(t, http.StatusUnauthorized, srv.get(t, "", "/v1/tasks").status)

	require.Equal(t, http.StatusAccepted, srv.post(t, keyA, event("shared-id", 1, "running", 10)).status)
	srv.waitTask(t, keyA, "shared-id", "running", 1)
	require.Equal(t, http.StatusNotFound, srv.get(t, keyB, "/v1/tasks/shared-id").status)
	require.Empty(t, srv.get(t, keyB, "/v1/tasks").body["tasks"])
	require.Equal(t, http.StatusNotFound, srv.get(t, keyB, "/v1/tasks/shared-id/events").status)

	// globex writes the same task id; each tenant keeps its own.
	require.Equal(t, http.StatusAccepted, srv.post(t, keyB, event("shared-id", 1, "failed", 70)).status)
	srv.waitTask(t, keyB, "shared-id", "failed", 1)
	require.Equal(t, "running", srv.waitTask(t, keyA, "shared-id", "running", 1)["status"])

	// Over WebSocket each tenant sees exactly its own event.
	require.Equal(t, float64(10), wsA.next(t, "progress")["event"].(map[string]any)["progress"])
	require.Equal(t, float64(70), wsB.next(t, "progress")["event"].(map[string]any)["progress"])
	require.Equal(t, http.StatusAccepted, srv.post(t, keyA, event("only-a", 1, "running", 33)).status)
	require.Equal(t, "only-a", wsA.next(t, "progress")["event"].(map[string]any)["task_id"])
	require.Equal(t, http.StatusAccepted, srv.post(t, keyB, event("only-b", 1, "running", 44)).status)
	require.Equal(t, "only-b", wsB.next(t, "progress")["event"].(map[string]any)["task_id"], "globex must not get acme's only-a first")
}

func TestServeRefusesOpenListenerWithoutKeys(t *testing.T) {
	fs := flagSetForTest()
	var s app.Settings
	s.RegisterFlags(fs)
	err := s.Parse(fs, []string{"--listen", "0.0.0.0:8080"})
	require.ErrorContains(t, err, "without API keys")
	fs = flagSetForTest()
	s = app.Settings{}
	s.RegisterFlags(fs)
	require.NoError(t, s.Parse(fs, []string{"--listen", "0.0.0.0:8080", "--api-keys", "tenant-key-0123456789=t"}))
}

func TestOperationalEndpoints(t *testing.T) {
	srv := startServer(t)
	require.Equal(t, http.StatusOK, srv.get(t, "", "/healthz").status)
	require.Equal(t, http.StatusOK, srv.get(t, "", "/readyz").status)
	require.Equal(t, http.StatusAccepted, srv.post(t, "", event("m", 1, "running", 1)).status)
	resp, err := http.Get(srv.base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, name := range []string{
		`taskpulse_http_requests_total{code="202",method="POST",route="/v1/progress"} 1`,
		`taskpulse_ingest_events_total{outcome="accepted",signal="progress"} 1`,
		"taskpulse_http_request_duration_seconds_bucket",
		`taskpulse_bus_lag_bytes{group="taskpulse-writer"}`,
		"taskpulse_writer_batch_size",
		"taskpulse_stream_connections",
	} {
		require.Contains(t, string(b), name)
	}
}

// TestEscapedTaskIDsReachTheirTask: an id with a space, a slash and a
// non-ASCII letter is one escaped path segment.
func TestEscapedTaskIDsReachTheirTask(t *testing.T) {
	srv := startServer(t)
	const id = "scrape docs/ü 1"
	require.Equal(t, http.StatusAccepted, srv.post(t, "", event(id, 1, "running", 5)).status)
	srv.waitTask(t, "", url.PathEscape(id), "running", 1)
	r := srv.get(t, "", "/v1/tasks/"+url.PathEscape(id)+"/events")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, id, r.body["events"].([]any)[0].(map[string]any)["task_id"])
	require.Equal(t, http.StatusBadRequest, srv.get(t, "", "/v1/tasks/%FF").status, "not UTF-8")
}
