package query_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store/duckdb"
	"github.com/taskpulse/taskpulse/query"
	"github.com/taskpulse/taskpulse/schema"
)

// api is the query API on a loopback port, every request as the default
// tenant.
type api struct {
	base   string
	client *http.Client
}

func startAPI(t testing.TB, deps query.Deps) *api {
	t.Helper()
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler, DisableStartupMessage: true})
	query.New(deps).Routes(app.Group("", auth.Keys{}.Middleware()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go app.Listener(ln)
	a := &api{base: "http://" + ln.Addr().String(), client: &http.Client{Transport: &http.Transport{}}}
	t.Cleanup(func() {
		// A shutdown waits for open connections, idle keep-alive ones too.
		a.client.CloseIdleConnections()
		require.NoError(t, app.Shutdown())
	})
	return a
}

// openStore opens a DuckDB store in a file of the test's own, closed once
// the test (and so its API) is done.
func openStore(t testing.TB) *duckdb.Store {
	t.Helper()
	st, err := duckdb.Open(filepath.Join(t.TempDir(), "taskpulse.duckdb"), duckdb.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	return st
}

// allDeps serves every endpoint from st, as serve does with a DuckDB store.
func allDeps(st *duckdb.Store) query.Deps {
	return query.Deps{Store: st}
}

var lastEventID atomic.Int64

// stamp fills in what ingest sets on every item it accepts before the
// writer stores it: the tenant (default, unless a test names another) and
// an event id.
func stamp(tenant, eventID *string) {
	if *tenant == "" {
		*tenant = "default"
	}
	if *eventID == "" {
		*eventID = fmt.Sprintf("e%06d", lastEventID.Add(1))
	}
}

// The insert helpers store one batch each, as the writer does.

func insertProgress(t testing.TB, st *duckdb.Store, events ...schema.Progress) {
	t.Helper()
	for i := range events {
		stamp(&events[i].Tenant, &events[i].EventID)
	}
	require.NoError(t, st.InsertProgress(t.Context(), events))
}

func insertLogs(t testing.TB, st *duckdb.Store, logs ...schema.Log) {
	t.Helper()
	for i := range logs {
		stamp(&logs[i].Tenant, &logs[i].EventID)
	}
	require.NoError(t, st.InsertLogs(t.Context(), logs))
}

func insertMetrics(t testing.TB, st *duckdb.Store, samples ...schema.Metric) {
	t.Helper()
	for i := range samples {
		stamp(&samples[i].Tenant, &samples[i].EventID)
	}
	require.NoError(t, st.InsertMetrics(t.Context(), samples))
}

// run is the events of a task of taskType that starts running at start
// and reaches status at end; a task still running has only its start.
func run(id, taskType string, start int64, status schema.Status, end int64) []schema.Progress {
	events := []schema.Progress{{TaskID: id, TaskType: taskType, Timestamp: start, Status: schema.StatusRunning}}
	if status != schema.StatusRunning {
		last := events[0]
		last.Timestamp, last.Status = end, status
		events = append(events, last)
	}
	return events
}

type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (a *api) do(t testing.TB, method, path, body string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && len(raw) > 0 && raw[0] == '{' {
		require.NoError(t, json.Unmarshal(raw, &r.body), string(raw))
	}
	return r
}

func (a *api) get(t testing.TB, path string) reply {
	t.Helper()
	return a.do(t, http.MethodGet, path, "")
}

// errorDetails returns the details of an error answer.
func errorDetails(t testing.TB, r reply) []map[string]any {
	t.Helper()
	e, ok := r.body["error"].(map[string]any)
	require.True(t, ok, "not an error answer: %s", r.raw)
	var out []map[string]any
	for _, d := range e["details"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out
}
