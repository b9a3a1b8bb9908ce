package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTaskAPIThroughKafkaAndClickHouse runs the task API in two processes
// on Kafka and ClickHouse: changes read their own writes through Kafka,
// a task created on one process is changed on the other once stored, a
// retried create is answered as the first from the store, the stream
// pushes every operation in order, and the store counts each once.
func TestTaskAPIThroughKafkaAndClickHouse(t *testing.T) {
	c := requireCluster(t)
	c.start(t, "writer")
	a := c.start(t, "tasks")
	b := c.start(t, "tasks")
	reader := c.start(t, "query,stream")

	ws := reader.dial(t, "", "task_id=dist-task-1")
	ws.next(t, "snapshot")

	create := `{"event_id":"dist-create-1","task_id":"dist-task-1","user_id":"u-dist","task_type":"scrape_docs","attributes":{"site":"react.dev"}}`
	first := mustTask(t, a.server, http.MethodPost, "/v1/tasks", create, http.StatusCreated)
	// Read-your-writes: the store has not caught up, the process has.
	got := mustTask(t, a.server, http.MethodPatch, "/v1/tasks/dist-task-1", `{"status":"running","progress":30,"attributes":{"depth":"2"}}`, http.StatusOK)
	require.Equal(t, map[string]any{"site": "react.dev", "depth": "2"}, got["attributes"])

	// The other process knows the task from the store.
	reader.waitTask(t, "", "dist-task-1", "running", 2)
	got = mustTask(t, b.server, http.MethodPost, "/v1/tasks/dist-task-1/complete", "", http.StatusOK)
	require.Equal(t, float64(100), got["progress"])
	status, _, answer := taskCall(t, b.base, http.MethodPost, "/v1/tasks/dist-task-1/resume", nil, "")
	require.Equal(t, http.StatusConflict, status, answer)

	// A retried create, on the process that did not make it, is answered
	// from the task's first event as the first answer was.
	again := mustTask(t, b.server, http.MethodPost, "/v1/tasks", create, http.StatusCreated)
	require.Equal(t, first, again)
	status, _, answer = taskCall(t, b.base, http.MethodPost, "/v1/tasks", nil, `{"task_id":"dist-task-1"}`)
	require.Equal(t, http.StatusConflict, status, answer)

	for _, want := range []string{"pending", "running", "completed"} {
		ev := ws.next(t, "progress")["event"].(map[string]any)
		require.Equal(t, want, ev["status"], "per-task order from the task API to WebSocket")
	}

	// A batch and the former progress module's routes, on the other process.
	answer = mustTask(t, b.server, http.MethodPost, "/v1/tasks/batch", `{"operations":[
		{"op":"create","task_id":"dist-task-2","status":"running"},
		{"op":"pause","task_id":"dist-task-2"},
		{"op":"complete","task_id":"dist-task-1"}]}`, http.StatusOK)
	require.Equal(t, float64(2), answer["applied"])
	reader.waitTask(t, "", "dist-task-2", "paused", 2)
	mustTask(t, a.server, http.MethodPost, "/api/v1/progress/tasks/dist-task-2/fail", `{"error":"site unreachable"}`, http.StatusOK)

	task := reader.waitTask(t, "", "dist-task-1", "completed", 3)
	require.Equal(t, "u-dist", task["user_id"])
	require.Len(t, reader.get(t, "", "/v1/tasks/dist-task-1/events").body["events"], 3, "the retried create is stored once")
	reader.waitTask(t, "", "dist-task-2", "failed", 3)
	legacy := reader.get(t, "", "/api/v1/progress/tasks/dist-task-2")
	require.Equal(t, "site unreachable", legacy.body["error"])
}
