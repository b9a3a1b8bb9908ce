package tasks_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/ingest"
	"github.com/taskpulse/taskpulse/ingest/writer"
	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus/embedded"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store/duckdb"
	"github.com/taskpulse/taskpulse/query"
	"github.com/taskpulse/taskpulse/schema"
	"github.com/taskpulse/taskpulse/tasks"
)

// pipeline is ingest, the delete route and the query API on one Fiber app,
// over a real embedded bus, the writer and a DuckDB store.
type pipeline struct {
	t   *testing.T
	app *fiber.App
}

func newPipeline(t *testing.T) *pipeline {
	dir := t.TempDir()
	b, err := embedded.Open(filepath.Join(dir, "bus"), embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	st, err := duckdb.Open(filepath.Join(dir, "taskpulse.duckdb"), duckdb.Options{Threads: 1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })

	w, err := writer.New(writer.Config{Group: "writer", BatchWait: 10 * time.Millisecond}, writer.Deps{Bus: b, Store: st})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})

	in, err := ingest.New(ingest.Config{}, ingest.Deps{Bus: b})
	require.NoError(t, err)
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler})
	r := app.Group("", auth.Keys(nil).Middleware())
	in.Routes(r)
	svc, err := tasks.New(tasks.Config{}, tasks.Deps{Bus: b, Store: st})
	require.NoError(t, err)
	svc.Routes(r)
	query.New(query.Deps{Store: st}).Routes(r)
	return &pipeline{t: t, app: app}
}

// do sends one request and returns the status and the body.
func (p *pipeline) do(method, path, body string) (int, string) {
	p.t.Helper()
	return p.doWith(method, path, body, nil)
}

// doWith sends one request with headers besides its body's type.
func (p *pipeline) doWith(method, path, body string, header map[string]string) (int, string) {
	p.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := p.app.Test(req, -1)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(p.t, err)
	return resp.StatusCode, string(b)
}

// eventually waits until path answers want with a body holding every
// one of parts, and returns the body.
func (p *pipeline) eventually(path string, want int, parts ...string) string {
	p.t.Helper()
	var body string
	require.Eventually(p.t, func() bool {
		var code int
		code, body = p.do(fiber.MethodGet, path, "")
		for _, part := range parts {
			if !strings.Contains(body, part) {
				return false
			}
		}
		return code == want
	}, 10*time.Second, 20*time.Millisecond, "GET %s never answered %d with %q; last: %s", path, want, parts, body)
	return body
}

func TestDeleteRemovesTaskFromEveryRead(t *testing.T) {
	p := newPipeline(t)
	now := time.Now().UnixMilli()
	progress := `[{"task_id":"doomed","status":"running","progress":10,"timestamp":` + itoa(now-2000) + `},
		{"task_id":"doomed","status":"running","progress":60,"timestamp":` + itoa(now-1000) + `},
		{"task_id":"kept","status":"completed","timestamp":` + itoa(now-1000) + `}]`
	code, body := p.do(fiber.MethodPost, "/v1/progress", progress)
	require.Equal(t, fiber.StatusAccepted, code, body)
	code, body = p.do(fiber.MethodPost, "/v1/logs",
		`{"level":"ERROR","message":"boom","task_id":"doomed","timestamp":`+itoa(now-1500)+`}`)
	require.Equal(t, fiber.StatusAccepted, code, body)
	code, body = p.do(fiber.MethodPost, "/v1/logs",
		`{"level":"ERROR","message":"fine","task_id":"kept","timestamp":`+itoa(now-1500)+`}`)
	require.Equal(t, fiber.StatusAccepted, code, body)
	p.eventually("/v1/tasks/doomed", fiber.StatusOK)
	p.eventually("/v1/tasks/doomed/logs", fiber.StatusOK, "boom")

	code, body = p.do(fiber.MethodDelete, "/v1/tasks/doomed", "")
	require.Equal(t, fiber.StatusAccepted, code, body)
	var answer struct {
		TaskID    string `json:"task_id"`
		EventID   string `json:"event_id"`
		DeletedAt int64  `json:"deleted_at"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &answer))
	require.Equal(t, "doomed", answer.TaskID)
	require.NotEmpty(t, answer.EventID)
	require.GreaterOrEqual(t, answer.DeletedAt, now)

	p.eventually("/v1/tasks/doomed", fiber.StatusNotFound)
	p.eventually("/v1/tasks/doomed/events", fiber.StatusNotFound)
	require.NotContains(t, p.eventually("/v1/tasks/doomed/logs", fiber.StatusOK), "boom")
	for _, path := range []string{
		"/v1/tasks", "/v1/logs", "/v1/export?what=tasks&format=ndjson", "/v1/export?what=logs&format=ndjson",
	} {
		body := p.eventually(path, fiber.StatusOK)
		require.NotContains(t, body, "doomed", path)
		require.Contains(t, body, "kept", path)
	}
	p.eventually("/v1/stats/overview?from=-1h", fiber.StatusOK, `"by_status":{"completed":1}`)

	// An event of the task from before the deletion, arriving late, does
	// not bring it back; a newer one starts a new task.
	code, body = p.do(fiber.MethodPost, "/v1/progress", `{"task_id":"doomed","status":"running","timestamp":`+itoa(now-500)+`}`)
	require.Equal(t, fiber.StatusAccepted, code, body)
	code, body = p.do(fiber.MethodPost, "/v1/progress", `{"task_id":"kept","status":"completed","progress":100}`)
	require.Equal(t, fiber.StatusAccepted, code, body)
	p.eventually("/v1/tasks/kept", fiber.StatusOK, `"progress":100`)
	p.eventually("/v1/tasks/doomed", fiber.StatusNotFound)

	code, body = p.do(fiber.MethodPost, "/v1/progress", `{"task_id":"doomed","status":"pending","timestamp":`+itoa(answer.DeletedAt+1)+`}`)
	require.Equal(t, fiber.StatusAccepted, code, body)
	p.eventually("/v1/tasks/doomed", fiber.StatusOK, `"status":"pending"`, `"events":1`)
}

func TestDeleteRefusals(t *testing.T) {
	p := newPipeline(t)
	for _, c := range []struct {
		name, method, path, body string
		want                     int
		field                    string
	}{
		{"deleted status from a client", fiber.MethodPost, "/v1/progress", `{"task_id":"t","status":"deleted"}`, fiber.StatusBadRequest, `"field":"status"`},
		{"id too long", fiber.MethodDelete, "/v1/tasks/" + strings.Repeat("x", 257), "", fiber.StatusBadRequest, `"parameter":"id"`},
		{"control character in id", fiber.MethodDelete, "/v1/tasks/a%07b", "", fiber.StatusBadRequest, `"parameter":"id"`},
		{"unknown parameter", fiber.MethodDelete, "/v1/tasks/t?force=true", "", fiber.StatusBadRequest, `"parameter":"force"`},
		{"unknown task", fiber.MethodDelete, "/v1/tasks/never", "", fiber.StatusNotFound, `"code":"not_found"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := p.do(c.method, c.path, c.body)
			require.Equal(t, c.want, code, body)
			require.Contains(t, body, c.field)
		})
	}
}

// TestDeleteAnswers503WhenTheBusIsDown deletes a stored task through a
// closed bus, which cannot take the tombstone.
func TestDeleteAnswers503WhenTheBusIsDown(t *testing.T) {
	b, err := embedded.Open(t.TempDir(), embedded.Options{})
	require.NoError(t, err)
	require.NoError(t, b.Close())
	st, err := duckdb.Open(filepath.Join(t.TempDir(), "taskpulse.duckdb"), duckdb.Options{Threads: 1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	require.NoError(t, st.InsertProgress(context.Background(), []schema.Progress{{
		Tenant: "default", EventID: "e1", Timestamp: time.Now().UnixMilli(), TaskID: "t", Status: schema.StatusRunning,
	}}))
	svc, err := tasks.New(tasks.Config{RetryAfter: 3}, tasks.Deps{Bus: b, Store: st})
	require.NoError(t, err)
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler})
	svc.Routes(app.Group("", auth.Keys(nil).Middleware()))
	resp, err := app.Test(httptest.NewRequest(fiber.MethodDelete, "/v1/tasks/t", nil), -1)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, fiber.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "3", resp.Header.Get(fiber.HeaderRetryAfter))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestIdempotencyKeyNamesOneKindOfOperation reuses a create's
// Idempotency-Key on a delete: the delete is not taken for a retry of
// the create, and deletes the task.
func TestIdempotencyKeyNamesOneKindOfOperation(t *testing.T) {
	p := newPipeline(t)
	key := map[string]string{"Idempotency-Key": "job-41"}
	req := func(method, path, body string) (int, string) { return p.doWith(method, path, body, key) }
	code, body := req(fiber.MethodPost, "/v1/tasks", `{"task_id":"job-41"}`)
	require.Equal(t, fiber.StatusCreated, code, body)
	code, body = req(fiber.MethodPost, "/v1/tasks", `{"task_id":"job-41"}`)
	require.Equal(t, fiber.StatusCreated, code, "a retried create answers as the first: %s", body)
	code, body = req(fiber.MethodDelete, "/v1/tasks/job-41", "")
	require.Equal(t, fiber.StatusAccepted, code, body)
	p.eventually("/v1/tasks/job-41", fiber.StatusNotFound)
}
