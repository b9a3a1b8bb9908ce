package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// taskCall sends one request to the task API with extra headers, and
// decodes the JSON answer whatever its shape.
func taskCall(t testing.TB, base, method, path string, header map[string]string, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var answer map[string]any
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &answer), string(raw))
	}
	return resp.StatusCode, resp.Header, answer
}

// mustTask sends a request the test expects to succeed with want.
func mustTask(t testing.TB, srv *server, method, path, body string, want int) map[string]any {
	t.Helper()
	status, _, answer := taskCall(t, srv.base, method, path, nil, body)
	require.Equal(t, want, status, "%s %s %s: %v", method, path, body, answer)
	return answer
}

// conflictDetail is the first detail of a 409 answer.
func conflictDetail(t testing.TB, answer map[string]any) map[string]any {
	t.Helper()
	e := answer["error"].(map[string]any)
	require.Equal(t, "conflict", e["code"], answer)
	return e["details"].([]any)[0].(map[string]any)
}

// readmeLifecycle is the lifecycle table as the README states it: each
// status and those a task in it may move to.
var readmeLifecycle = map[string][]string{
	"pending":   {"running", "paused", "completed", "failed", "cancelled"},
	"running":   {"paused", "completed", "failed", "cancelled"},
	"paused":    {"running", "failed", "cancelled"},
	"completed": {},
	"failed":    {},
	"cancelled": {},
}

// readmeRequests are, as the README states them, the operations that on
// a task in a status its worker holds ask the worker rather than change
// the status.
var readmeRequests = map[string][]string{
	"running": {"cancel", "pause"},
	"paused":  {"cancel", "resume"},
}

// TestTaskLifecycleTable tries every lifecycle operation on a task in
// every status: the allowed ones answer the new state, or, on a task its
// worker holds, 202 with a control request that changes the status only
// once the worker reports it; the others 409 naming the current status
// and the allowed next ones, and change nothing.
func TestTaskLifecycleTable(t *testing.T) {
	srv := startServer(t)
	ops := map[string]string{"complete": "completed", "fail": "failed", "cancel": "cancelled", "pause": "paused", "resume": "running"}
	n := 0
	for from, next := range readmeLifecycle {
		for op, to := range ops {
			n++
			id := fmt.Sprintf("life-%s-%s", from, op)
			mustTask(t, srv, http.MethodPost, "/v1/tasks", `{"task_id":"`+id+`","status":"`+from+`","error":"set at create"}`, http.StatusCreated)
			body := ""
			if op == "fail" {
				body = `{"error":"boom"}`
			}
			status, _, answer := taskCall(t, srv.base, http.MethodPost, "/v1/tasks/"+id+"/"+op, nil, body)
			if slices.Contains(next, to) && slices.Contains(readmeRequests[from], op) {
				require.Equal(t, http.StatusAccepted, status, "%s on %s: %v", op, from, answer)
				require.Equal(t, from, answer["status"], "%s on %s asks, changes nothing", op, from)
				ctl := answer["control"].(map[string]any)
				require.Equal(t, op, ctl["action"], "%s on %s", op, from)
				require.Nil(t, ctl["acknowledged_at"], "%s on %s", op, from)
				srv.waitTask(t, "", id, from, 1)
				// The worker acknowledges by reporting the status asked for.
				answer = mustTask(t, srv, http.MethodPatch, "/v1/tasks/"+id, `{"status":"`+to+`"}`, http.StatusOK)
				require.Equal(t, to, answer["status"], "%s on %s", op, from)
				task := srv.waitTask(t, "", id, to, 2)
				require.NotNil(t, task["control"].(map[string]any)["acknowledged_at"], "%s on %s: %v", op, from, task)
				continue
			}
			if slices.Contains(next, to) {
				require.Equal(t, http.StatusOK, status, "%s on %s: %v", op, from, answer)
				require.Equal(t, to, answer["status"], "%s on %s", op, from)
				continue
			}
			require.Equal(t, http.StatusConflict, status, "%s on %s: %v", op, from, answer)
			d := conflictDetail(t, answer)
			require.Equal(t, from, d["current"])
			allowed := []string{}
			for _, s := range d["allowed"].([]any) {
				allowed = append(allowed, s.(string))
			}
			require.ElementsMatch(t, next, allowed, "%s on %s", op, from)
		}
	}
	require.Equal(t, 30, n)
	// A refused change published nothing: the completed task kept its one event.
	task := srv.waitTask(t, "", "life-completed-resume", "completed", 1)
	require.Equal(t, float64(1), task["events"])

	// PATCH goes through the same table: a status not allowed is a 409.
	mustTask(t, srv, http.MethodPost, "/v1/tasks", `{"task_id":"life-patch","status":"cancelled"}`, http.StatusCreated)
	status, _, answer := taskCall(t, srv.base, http.MethodPatch, "/v1/tasks/life-patch", nil, `{"status":"running"}`)
	require.Equal(t, http.StatusConflict, status, answer)
	require.Equal(t, "cancelled", conflictDetail(t, answer)["current"])
	// ... and a finished task takes no update at all.
	status, _, answer = taskCall(t, srv.base, http.MethodPatch, "/v1/tasks/life-patch", nil, `{"message":"late"}`)
	require.Equal(t, http.StatusConflict, status, answer)
}

// TestTaskCreateIsIdempotent repeats creates by event_id and by
// Idempotency-Key: each repeat answers as the first, and the store keeps
// one event; another create of the same task is a 409.
func TestTaskCreateIsIdempotent(t *testing.T) {
	srv := startServer(t)
	body := `{"event_id":"ev-create-1","task_id":"idem-1","task_name":"Scrape docs","progress":5}`
	status, header, first := taskCall(t, srv.base, http.MethodPost, "/v1/tasks", nil, body)
	require.Equal(t, http.StatusCreated, status, first)
	require.Equal(t, "/v1/tasks/idem-1", header.Get("Location"))
	require.Equal(t, "pending", first["status"])
	mustTask(t, srv, http.MethodPatch, "/v1/tasks/idem-1", `{"progress":30}`, http.StatusOK)

	status, header, again := taskCall(t, srv.base, http.MethodPost, "/v1/tasks", nil, body)
	require.Equal(t, http.StatusCreated, status, again)
	require.Equal(t, first, again, "a repeated create answers as the first did")
	require.Equal(t, "/v1/tasks/idem-1", header.Get("Location"))

	status, _, answer := taskCall(t, srv.base, http.MethodPost, "/v1/tasks", nil, `{"task_id":"idem-1"}`)
	require.Equal(t, http.StatusConflict, status, answer)
	require.Equal(t, "pending", conflictDetail(t, answer)["current"])

	// Without a task_id, the key names the task too, so a retry finds it.
	key := map[string]string{"Idempotency-Key": "create-report-7"}
	status, header, byKey := taskCall(t, srv.base, http.MethodPost, "/v1/tasks", key, `{"task_type":"report","status":"running"}`)
	require.Equal(t, http.StatusCreated, status, byKey)
	id := byKey["task_id"].(string)
	require.Equal(t, "/v1/tasks/"+id, header.Get("Location"))
	status, _, retried := taskCall(t, srv.base, http.MethodPost, "/v1/tasks", key, `{"task_type":"report","status":"running"}`)
	require.Equal(t, http.StatusCreated, status, retried)
	require.Equal(t, byKey, retried)

	// Another key is another task.
	status, _, answer = taskCall(t, srv.base, http.MethodPost, "/v1/tasks", map[string]string{"Idempotency-Key": "create-report-8"}, `{}`)
	require.Equal(t, http.StatusCreated, status, answer)
	require.NotEqual(t, id, answer["task_id"])

	status, _, answer = taskCall(t, srv.base, http.MethodPost, "/v1/tasks", key, `{"event_id":"ev-2"}`)
	require.Equal(t, http.StatusBadRequest, status, answer)
	require.Contains(t, fmt.Sprint(answer), "event_id")

	// Exactly once in the store, retries and all.
	srv.waitTask(t, "", "idem-1", "pending", 2)
	srv.waitTask(t, "", id, "running", 1)
}

// TestTaskUnknownAndBadRequests: 404 for a task that does not exist
// anywhere, 400 naming each bad field, 415 and 413 as ingest answers.
func TestTaskUnknownAndBadRequests(t *testing.T) {
	srv := startServer(t, "--body-limit", "4096")
	for _, path := range []string{"/v1/tasks/nobody/complete", "/v1/tasks/nobody/resume"} {
		status, _, answer := taskCall(t, srv.base, http.MethodPost, path, nil, "")
		require.Equal(t, http.StatusNotFound, status, answer)
	}
	status, _, answer := taskCall(t, srv.base, http.MethodPatch, "/v1/tasks/nobody", nil, `{"progress":1}`)
	require.Equal(t, http.StatusNotFound, status, answer)

	mustTask(t, srv, http.MethodPost, "/v1/tasks", `{"task_id":"bad-1","status":"running"}`, http.StatusCreated)
	for body, field := range map[string]string{
		`{"progress":101}`:                 "progress",
		`{"progresss":1}`:                  "progresss",
		`{"task_id":"other"}`:              "task_id",
		`{"steps_done":5,"steps_total":2}`: "steps_done",
		`{"status":"sleeping"}`:            "status",
		`{"op":"create"}`:                  "op",
		`[1]`:                              "body",
	} {
		status, _, answer := taskCall(t, srv.base, http.MethodPatch, "/v1/tasks/bad-1", nil, body)
		require.Equal(t, http.StatusBadRequest, status, "%s: %v", body, answer)
		require.Contains(t, fmt.Sprint(answer["error"]), field, body)
	}
	status, _, answer = taskCall(t, srv.base, http.MethodPost, "/v1/tasks/bad-1/fail", nil, `{"message":"no error given"}`)
	require.Equal(t, http.StatusBadRequest, status, answer)
	require.Contains(t, fmt.Sprint(answer["error"]), "error")
	status, _, answer = taskCall(t, srv.base, http.MethodPost, "/v1/tasks/"+strings.Repeat("x", 300)+"/cancel", nil, "")
	require.Equal(t, http.StatusBadRequest, status, answer)

	req, err := http.NewRequest(http.MethodPost, srv.base+"/v1/tasks", strings.NewReader(`{"task_id":"t"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)

	status, _, _ = taskCall(t, srv.base, http.MethodPost, "/v1/tasks", nil, `{"task_id":"big","message":"`+strings.Repeat("m", 5000)+`"}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, status)

	// Nothing refused reached the store: bad-1 has its create alone.
	task := srv.waitTask(t, "", "bad-1", "running", 1)
	require.Equal(t, float64(0), task["progress"])
}

// TestTaskPatchMergesAndKeeps: a PATCH changes what it sends, merges
// attributes key by key and keeps every field it does not send, in the
// answer and in the stored state; a raw event reported since is merged
// in by order.
func TestTaskPatchMergesAndKeeps(t *testing.T) {
	srv := startServer(t)
	mustTask(t, srv, http.MethodPost, "/v1/tasks", `{"task_id":"merge-1","user_id":"u-7","task_type":"scrape_docs","task_name":"Scrape React docs",
		"message":"queued","steps_total":20,"eta":600,"attributes":{"site":"react.dev","lang":"en"}}`, http.StatusCreated)
	got := mustTask(t, srv, http.MethodPatch, "/v1/tasks/merge-1", `{"status":"running","progress":35,"steps_done":7,"attributes":{"lang":"fr","depth":"2"}}`, http.StatusOK)
	want := map[string]any{
		"user_id": "u-7", "task_type": "scrape_docs", "task_name": "Scrape React docs", "message": "queued",
		"status": "running", "progress": float64(35), "steps_done": float64(7), "steps_total": float64(20), "eta": float64(600),
		"attributes": map[string]any{"site": "react.dev", "lang": "fr", "depth": "2"},
	}
	for k, v := range want {
		require.Equal(t, v, got[k], k)
	}
	stored := srv.waitTask(t, "", "merge-1", "running", 2)
	for k, v := range want {
		require.Equal(t, v, stored[k], "stored %s", k)
	}

	// A worker reports through raw ingest; the next PATCH builds on it.
	r := srv.post(t, "", `{"task_id":"merge-1","status":"running","progress":60,"current_step":"parsing","timestamp":`+fmt.Sprint(time.Now().Add(time.Second).UnixMilli())+`}`)
	require.Equal(t, http.StatusAccepted, r.status)
	srv.waitTask(t, "", "merge-1", "running", 3)
	got = mustTask(t, srv, http.MethodPatch, "/v1/tasks/merge-1", `{"message":"half way"}`, http.StatusOK)
	require.Equal(t, float64(60), got["progress"], "the raw event is the later state")
	require.Equal(t, "parsing", got["current_step"])
	require.Equal(t, "half way", got["message"])
	stored = srv.waitTask(t, "", "merge-1", "running", 4)
	require.Equal(t, "half way", stored["message"], "the PATCH is ordered after the raw event it built on")
}

// TestTaskBatchAnswersEachOperation sends good and bad operations in one
// batch: each is answered at its index, the good ones are applied in
// order, and nothing of a bad one is stored.
func TestTaskBatchAnswersEachOperation(t *testing.T) {
	srv := startServer(t)
	mustTask(t, srv, http.MethodPost, "/v1/tasks", `{"task_id":"b-done","status":"completed"}`, http.StatusCreated)
	answer := mustTask(t, srv, http.MethodPost, "/v1/tasks/batch", `{"operations":[
		{"op":"create","task_id":"b-1","task_name":"first","status":"running"},
		{"op":"update","task_id":"b-1","progress":50,"attributes":{"k":"v"}},
		{"op":"complete","task_id":"b-1"},
		{"op":"create","task_id":"b-done"},
		{"op":"update","task_id":"b-nobody","progress":1},
		{"op":"update","task_id":"b-1","progress":"lots"},
		{"op":"resume","task_id":"b-done"},
		{"op":"fail","task_id":"b-2"},
		{"op":"explode","task_id":"b-1"},
		{"op":"create","task_id":"b-2","progress":1},
		{"op":"pause","task_id":"b-2"}
	]}`, http.StatusOK)
	results := answer["results"].([]any)
	require.Len(t, results, 11)
	want := []int{201, 200, 200, 409, 404, 400, 409, 400, 400, 201, 200}
	for i, w := range want {
		r := results[i].(map[string]any)
		require.Equal(t, float64(i), r["index"])
		require.Equal(t, float64(w), r["status"], "operation %d: %v", i, r)
		if w >= 400 {
			require.NotNil(t, r["error"], "operation %d", i)
		}
	}
	require.Equal(t, float64(5), answer["applied"])
	require.Contains(t, fmt.Sprint(results[5]), "progress")
	require.Equal(t, float64(100), results[2].(map[string]any)["task"].(map[string]any)["progress"])

	done := srv.waitTask(t, "", "b-1", "completed", 3)
	require.Equal(t, map[string]any{"k": "v"}, done["attributes"])
	srv.waitTask(t, "", "b-2", "paused", 2)
	srv.waitTask(t, "", "b-done", "completed", 1)

	ops := make([]string, 1001)
	for i := range ops {
		ops[i] = fmt.Sprintf(`{"op":"create","task_id":"many-%d"}`, i)
	}
	status, _, tooMany := taskCall(t, srv.base, http.MethodPost, "/v1/tasks/batch", nil, `{"operations":[`+strings.Join(ops, ",")+`]}`)
	require.Equal(t, http.StatusBadRequest, status, tooMany)
	status, _, full := taskCall(t, srv.base, http.MethodPost, "/v1/tasks/batch", nil, `{"operations":[`+strings.Join(ops[:1000], ",")+`]}`)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, float64(1000), full["applied"])
	status, _, _ = taskCall(t, srv.base, http.MethodPost, "/v1/tasks/batch", nil, `{"operations":[]}`)
	require.Equal(t, http.StatusBadRequest, status)
}

// TestTaskReadYourWrites changes tasks right after creating them while
// the writer holds its batch for a second: every change finds the task,
// and the stream and the store see every operation as an event.
func TestTaskReadYourWrites(t *testing.T) {
	srv := startServer(t, "--writer-wait", "1s", "--writer-batch", "100000")
	ws := srv.dial(t, "", "task_id=ryw-0")
	ws.next(t, "snapshot")
	for i := range 20 {
		id := fmt.Sprintf("ryw-%d", i)
		start := time.Now()
		mustTask(t, srv, http.MethodPost, "/v1/tasks", `{"task_id":"`+id+`"}`, http.StatusCreated)
		mustTask(t, srv, http.MethodPatch, "/v1/tasks/"+id, `{"status":"running","progress":10}`, http.StatusOK)
		got := mustTask(t, srv, http.MethodPost, "/v1/tasks/"+id+"/complete", "", http.StatusOK)
		require.Equal(t, "completed", got["status"])
		require.Equal(t, float64(3), got["events"])
		// Found in the view, not after the store's second of patience.
		require.Less(t, time.Since(start), 900*time.Millisecond)
	}
	for _, want := range []string{"pending", "running", "completed"} {
		ev := ws.next(t, "progress")["event"].(map[string]any)
		require.Equal(t, want, ev["status"])
	}
	srv.waitTask(t, "", "ryw-19", "completed", 3)
}

// TestTaskOperationsCountAgainstTheIngestRate: task operations are
// events, limited by the tenant's ingest allowance.
func TestTaskOperationsCountAgainstTheIngestRate(t *testing.T) {
	srv := startServer(t, "--ingest-events-rate", "0.001", "--ingest-events-burst", "2")
	mustTask(t, srv, http.MethodPost, "/v1/tasks", `{"task_id":"rl-1"}`, http.StatusCreated)
	mustTask(t, srv, http.MethodPost, "/v1/tasks/rl-1/cancel", "", http.StatusOK)
	status, header, answer := taskCall(t, srv.base, http.MethodPost, "/v1/tasks", nil, `{"task_id":"rl-2"}`)
	require.Equal(t, http.StatusTooManyRequests, status, answer)
	require.NotEmpty(t, header.Get("Retry-After"))
	require.Equal(t, http.StatusTooManyRequests, srv.post(t, "", event("rl-3", 1, "running", 1)).status, "the allowance is ingest's")
}

// TestTasksAreKeptPerTenant: a task is its tenant's alone, to change as
// to name; the same id in another tenant is another task.
func TestTasksAreKeptPerTenant(t *testing.T) {
	const keyA, keyB = "tenant-a-key-0123456789", "tenant-b-key-0123456789"
	srv := startServer(t, "--api-keys", keyA+"=acme,"+keyB+"=globex")
	as := func(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }
	status, _, answer := taskCall(t, srv.base, http.MethodPost, "/v1/tasks", as(keyA), `{"task_id":"shared","status":"running","message":"acme's"}`)
	require.Equal(t, http.StatusCreated, status, answer)
	status, _, answer = taskCall(t, srv.base, http.MethodPost, "/v1/tasks/shared/complete", as(keyB), "")
	require.Equal(t, http.StatusNotFound, status, answer)
	status, _, answer = taskCall(t, srv.base, http.MethodPost, "/v1/tasks", as(keyB), `{"task_id":"shared","status":"paused"}`)
	require.Equal(t, http.StatusCreated, status, answer)
	status, _, answer = taskCall(t, srv.base, http.MethodPost, "/v1/tasks/shared/resume", as(keyA), "")
	require.Equal(t, http.StatusConflict, status, "acme's task runs already: %v", answer)
	status, _, answer = taskCall(t, srv.base, http.MethodPost, "/v1/tasks/shared/resume", as(keyB), "")
	require.Equal(t, http.StatusAccepted, status, "globex's worker is asked: %v", answer)
	_, _, answer = taskCall(t, srv.base, http.MethodGet, "/v1/tasks/shared", as(keyA), "")
	require.Nil(t, answer["control"], "acme's task is not asked")
	status, _, answer = taskCall(t, srv.base, http.MethodPatch, "/v1/tasks/shared", as(keyB), `{"status":"running"}`)
	require.Equal(t, http.StatusOK, status, answer)
	acme := srv.waitTask(t, keyA, "shared", "running", 1)
	require.Equal(t, "acme's", acme["message"])
	srv.waitTask(t, keyB, "shared", "running", 2)
	status, _, _ = taskCall(t, srv.base, http.MethodPost, "/v1/tasks", nil, `{"task_id":"nokey"}`)
	require.Equal(t, http.StatusUnauthorized, status)
}
