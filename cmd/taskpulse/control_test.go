package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"
)

// The worker below is what a user writes: plain HTTP and WebSocket client
// code that reports progress and stops when asked, through one of the
// three ways a control request reaches it. It knows TaskPulse only by its
// documented routes and JSON.

// controlWay is how a worker learns of a control request.
type controlWay string

const (
	// wayReport: the answer to its progress reports carries the request.
	wayReport controlWay = "report"
	// wayPoll: a long poll of GET /v1/tasks/{id}/control.
	wayPoll controlWay = "poll"
	// wayStream: a control subscription on the WebSocket stream.
	wayStream controlWay = "stream"
)

var controlWays = []controlWay{wayReport, wayPoll, wayStream}

// asked is a control request as a worker receives it.
type asked struct {
	TaskID      string `json:"task_id"`
	Action      string `json:"action"`
	RequestedAt string `json:"requested_at"`
	RequestedBy string `json:"requested_by"`
	AckDeadline string `json:"ack_deadline"`
}

// worker runs one task: it reports progress to report, learns of a
// control request by way (polling poll, or following stream), and sends
// what it learned on got.
type worker struct {
	task                 string
	report, poll, stream string // base URLs
}

// run works until ctx ends or a request arrives, which it returns.
func (w worker) run(ctx context.Context, way controlWay) (asked, error) {
	got := make(chan asked, 1)
	errs := make(chan error, 1)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	switch way {
	case wayPoll:
		go func() {
			for ctx.Err() == nil {
				a, ok, err := w.longPoll(ctx)
				if err != nil {
					fail(err)
					return
				}
				if ok {
					got <- a
					return
				}
			}
		}()
	case wayStream:
		conn, _, err := websocket.DefaultDialer.DialContext(ctx, "ws"+strings.TrimPrefix(w.stream, "http")+"/v1/stream", nil)
		if err != nil {
			return asked{}, err
		}
		defer conn.Close()
		if err := conn.WriteJSON(map[string]any{"type": "subscribe", "control": map[string]string{"task_id": w.task}}); err != nil {
			return asked{}, err
		}
		subscribed := make(chan struct{})
		go func() {
			for {
				var msg struct {
					Type    string `json:"type"`
					Control asked  `json:"control"`
				}
				if err := conn.ReadJSON(&msg); err != nil {
					fail(err)
					return
				}
				switch msg.Type {
				case "subscribed":
					close(subscribed)
				case "control":
					got <- msg.Control
					return
				}
			}
		}()
		select {
		case <-subscribed:
		case err := <-errs:
			return asked{}, err
		}
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for progress := 1; ; progress = min(progress+1, 99) {
		select {
		case a := <-got:
			return a, nil
		case err := <-errs:
			return asked{}, err
		case <-ctx.Done():
			return asked{}, ctx.Err()
		case <-tick.C:
		}
		var answer struct {
			Control []asked `json:"control"`
		}
		body := fmt.Sprintf(`{"task_id":%q,"user_id":"worker-1","task_type":"scrape_docs","status":"running","progress":%d}`, w.task, progress)
		if err := call(ctx, http.MethodPost, w.report+"/v1/progress", body, http.StatusAccepted, &answer); err != nil {
			return asked{}, err
		}
		if way == wayReport && len(answer.Control) > 0 {
			return answer.Control[0], nil
		}
	}
}

// longPoll waits up to 30 s for a request of the worker's task.
func (w worker) longPoll(ctx context.Context) (asked, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.poll+"/v1/tasks/"+w.task+"/control?wait=30s", nil)
	if err != nil {
		return asked{}, false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return asked{}, false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNoContent:
		return asked{}, false, nil
	case http.StatusNotFound:
		// Its first report is not stored yet: ask again soon.
		time.Sleep(100 * time.Millisecond)
		return asked{}, false, nil
	case http.StatusOK:
		var a asked
		return a, true, json.NewDecoder(resp.Body).Decode(&a)
	}
	raw, _ := io.ReadAll(resp.Body)
	return asked{}, false, fmt.Errorf("long poll: %d %s", resp.StatusCode, raw)
}

// acknowledge reports the status the request asks for.
func (w worker) acknowledge(ctx context.Context, status string) error {
	body := fmt.Sprintf(`{"task_id":%q,"user_id":"worker-1","task_type":"scrape_docs","status":%q}`, w.task, status)
	return call(ctx, http.MethodPost, w.report+"/v1/progress", body, http.StatusAccepted, nil)
}

// call sends a JSON request and decodes the answer into out, unless nil.
func call(ctx context.Context, method, url, body string, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(bytes.NewReader(raw)).Decode(out)
}

// cancelThroughEveryWay starts a worker per way, has a person cancel its
// task through person once reader shows it running, and checks that the
// worker learns of it, acknowledges it, and that reader shows the
// acknowledgement. It logs each delay from the request to the worker.
func cancelThroughEveryWay(t *testing.T, name string, person, reader *server, w worker) {
	for _, way := range controlWays {
		t.Run(string(way), func(t *testing.T) {
			w := w
			w.task = name + "-" + string(way)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			type outcome struct {
				a   asked
				at  time.Time
				err error
			}
			done := make(chan outcome, 1)
			go func() {
				a, err := w.run(ctx, way)
				done <- outcome{a, time.Now(), err}
			}()
			// The person sees the task run, then asks.
			task := waitControl(t, reader, w.task, func(task map[string]any) bool { return task["status"] == "running" })
			require.Nil(t, task["control"], "no request yet")
			asked := time.Now()
			status, _, answer := taskCall(t, person.base, http.MethodPost, "/v1/tasks/"+w.task+"/cancel", nil, `{"requested_by":"ops on call"}`)
			require.Equal(t, http.StatusAccepted, status, answer)
			require.Equal(t, "running", answer["status"], "a request leaves the status to the worker")
			control := answer["control"].(map[string]any)
			require.Equal(t, "cancel", control["action"])
			require.Equal(t, "ops on call", control["requested_by"])
			require.NotContains(t, control, "acknowledged_at")

			o := <-done
			require.NoError(t, o.err)
			delay := o.at.Sub(asked)
			t.Logf("%s, way %s: the worker learned of the cancel %v after it was asked", name, way, delay.Round(time.Millisecond))
			require.Less(t, delay, 10*time.Second)
			require.Equal(t, w.task, o.a.TaskID)
			require.Equal(t, "cancel", o.a.Action)
			require.Equal(t, control["requested_at"], o.a.RequestedAt)

			require.NoError(t, w.acknowledge(ctx, "cancelled"))
			task = waitControl(t, reader, w.task, func(task map[string]any) bool {
				c, _ := task["control"].(map[string]any)
				return task["status"] == "cancelled" && c["acknowledged_at"] != nil
			})
			require.NotContains(t, task["control"], "unacknowledged")
		})
	}
}

// waitControl reads the task from reader until done says it is as wanted.
// It reads on the test's own goroutine, so that no read outlives the test.
func waitControl(t *testing.T, reader *server, id string, done func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		last := reader.get(t, "", "/v1/tasks/"+id)
		if last.status == http.StatusOK && done(last.body) {
			return last.body
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s: last read %d %v", id, last.status, last.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestControlReachesTheWorkerEveryWay: all in one process, a cancel
// reaches a worker by each of the three ways.
func TestControlReachesTheWorkerEveryWay(t *testing.T) {
	srv := startServer(t)
	cancelThroughEveryWay(t, "aio", srv, srv, worker{report: srv.base, poll: srv.base, stream: srv.base})
}

// TestControlReachesTheWorkerThroughKafka: the person, the worker's
// reports, its long poll, its stream and the reads each go to another
// process, so the request crosses Kafka and the store's documents.
func TestControlReachesTheWorkerThroughKafka(t *testing.T) {
	c := requireCluster(t)
	c.start(t, "writer")
	person := c.start(t, "tasks")
	poll := c.start(t, "tasks")
	reports := c.start(t, "ingest")
	streams := c.start(t, "stream")
	reader := c.start(t, "query")
	cancelThroughEveryWay(t, "kafka", person.server, reader.server,
		worker{report: reports.base, poll: poll.base, stream: streams.base})
}

// TestUnacknowledgedControlFiresItsRule: a worker that never answers
// leaves its request unacknowledged past its deadline, which the task
// shows and a control_unacknowledged rule fires on; the acknowledgement
// resolves it.
func TestUnacknowledgedControlFiresItsRule(t *testing.T) {
	srv := startServer(t)
	rule := `{"id":"stuck-worker","kind":"control_unacknowledged","severity":"critical"}`
	r := srv.do(t, http.MethodPost, "/v1/alert-rules", "", "application/json", rule)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	require.Equal(t, http.StatusAccepted, srv.post(t, "", event("deaf-1", 1, "running", 10)).status)
	srv.waitTask(t, "", "deaf-1", "running", 1)

	mustTask(t, srv, http.MethodPost, "/v1/tasks/deaf-1/pause", `{"ack_timeout":"1s"}`, http.StatusAccepted)
	task := waitControl(t, srv, "deaf-1", func(task map[string]any) bool {
		c, _ := task["control"].(map[string]any)
		return c["unacknowledged"] == true
	})
	require.Equal(t, "running", task["status"])
	alert := waitAlert(t, srv, "stuck-worker", "firing")
	require.Equal(t, "deaf-1", alert["task_id"])
	require.Contains(t, alert["summary"], "pause")

	// Late, the worker pauses: the request is acknowledged, the alert
	// resolved.
	require.Equal(t, http.StatusAccepted, srv.post(t, "", event("deaf-1", 2, "paused", 10)).status)
	task = waitControl(t, srv, "deaf-1", func(task map[string]any) bool {
		c, _ := task["control"].(map[string]any)
		return c["acknowledged_at"] != nil
	})
	require.NotContains(t, task["control"], "unacknowledged")
	waitAlert(t, srv, "stuck-worker", "resolved")
}

// waitAlert waits for the rule's alert to reach state.
func waitAlert(t *testing.T, srv *server, rule, state string) map[string]any {
	t.Helper()
	var found map[string]any
	require.Eventually(t, func() bool {
		for _, a := range srv.get(t, "", "/v1/alerts").body["alerts"].([]any) {
			if a := a.(map[string]any); a["rule_id"] == rule && a["state"] == state {
				found = a
				return true
			}
		}
		return false
	}, 30*time.Second, 50*time.Millisecond, "alert of %s never %s", rule, state)
	return found
}

// TestControlRefusesWhatCannotBe: the control routes answer bad input
// with the task API's errors, and a tenant's long poll sees no other
// tenant's task.
func TestControlRefusesWhatCannotBe(t *testing.T) {
	const keyA, keyB = "tenant-a-key-0123456789", "tenant-b-key-0123456789"
	srv := startServer(t, "--api-keys", keyA+"=acme,"+keyB+"=globex")
	as := func(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }
	status, _, answer := taskCall(t, srv.base, http.MethodPost, "/v1/tasks", as(keyA), `{"task_id":"ctl-1","status":"running"}`)
	require.Equal(t, http.StatusCreated, status, answer)
	status, _, answer = taskCall(t, srv.base, http.MethodPost, "/v1/tasks", as(keyA), `{"task_id":"ctl-done","status":"completed"}`)
	require.Equal(t, http.StatusCreated, status, answer)

	f := func(key, method, path, body string, want int, field string) {
		t.Helper()
		status, _, answer := taskCall(t, srv.base, method, path, as(key), body)
		require.Equal(t, want, status, "%s %s %s: %v", method, path, body, answer)
		if field != "" {
			e := answer["error"].(map[string]any)
			require.Contains(t, fmt.Sprint(e["details"], e["message"]), field, answer)
		}
	}
	f(keyA, http.MethodPost, "/v1/tasks/nobody/cancel", "", http.StatusNotFound, "")
	f(keyA, http.MethodGet, "/v1/tasks/nobody/control?wait=0s", "", http.StatusNotFound, "")
	f(keyA, http.MethodPost, "/v1/tasks/ctl-done/cancel", "", http.StatusConflict, "completed")
	f(keyA, http.MethodPost, "/v1/tasks/ctl-1/resume", "", http.StatusConflict, "running")
	f(keyA, http.MethodPost, "/v1/tasks/ctl-1/cancel", `{"ack_timeout":"forever"}`, http.StatusBadRequest, "ack_timeout")
	f(keyA, http.MethodPost, "/v1/tasks/ctl-1/cancel", `{"ack_timeout":"48h"}`, http.StatusBadRequest, "ack_timeout")
	f(keyA, http.MethodPost, "/v1/tasks/ctl-1/cancel", `{"requested_by":"`+strings.Repeat("x", 300)+`"}`, http.StatusBadRequest, "requested_by")
	f(keyA, http.MethodPost, "/v1/tasks/ctl-1/cancel", `{"action":"explode"}`, http.StatusBadRequest, "action")
	f(keyA, http.MethodPost, "/v1/tasks/batch", `{"operations":[{"op":"cancel","task_id":"ctl-1","ack_timeout":"5s"}]}`, http.StatusOK, "")
	f(keyA, http.MethodGet, "/v1/tasks/ctl-1/control?wait=2m", "", http.StatusBadRequest, "wait")
	f(keyA, http.MethodGet, "/v1/tasks/ctl-1/control?wait=soon", "", http.StatusBadRequest, "wait")
	f(keyA, http.MethodGet, "/v1/tasks/ctl-1/control?after=1", "", http.StatusBadRequest, "after")
	f(keyB, http.MethodGet, "/v1/tasks/ctl-1/control?wait=0s", "", http.StatusNotFound, "")
	f(keyB, http.MethodPost, "/v1/tasks/ctl-1/cancel", "", http.StatusNotFound, "")
	// Nothing above asked anything: the long poll ends empty.
	f(keyA, http.MethodGet, "/v1/tasks/ctl-1/control?wait=0s", "", http.StatusNoContent, "")

	// The same request twice is one request.
	status, _, first := taskCall(t, srv.base, http.MethodPost, "/v1/tasks/ctl-1/pause", as(keyA), "")
	require.Equal(t, http.StatusAccepted, status, first)
	status, _, again := taskCall(t, srv.base, http.MethodPost, "/v1/tasks/ctl-1/pause", as(keyA), "")
	require.Equal(t, http.StatusAccepted, status, again)
	require.Equal(t, first["control"], again["control"])
	require.Equal(t, "acme", first["control"].(map[string]any)["requested_by"], "the key's tenant, when the body names no one")

	// The worker's PATCH is told what is pending, until it reports it done.
	status, _, answer = taskCall(t, srv.base, http.MethodPatch, "/v1/tasks/ctl-1", as(keyA), `{"progress":50}`)
	require.Equal(t, http.StatusOK, status, answer)
	pending := answer["control"].([]any)
	require.Len(t, pending, 1)
	require.Equal(t, map[string]any{"task_id": "ctl-1", "action": "pause"}, map[string]any{"task_id": pending[0].(map[string]any)["task_id"], "action": pending[0].(map[string]any)["action"]})
	status, _, answer = taskCall(t, srv.base, http.MethodPatch, "/v1/tasks/ctl-1", as(keyA), `{"status":"paused"}`)
	require.Equal(t, http.StatusOK, status, answer)
	require.NotContains(t, answer, "control", "the report that acknowledges is answered as before")
	task := srv.waitTask(t, keyA, "ctl-1", "paused", 3)
	require.NotNil(t, task["control"].(map[string]any)["acknowledged_at"])
}
