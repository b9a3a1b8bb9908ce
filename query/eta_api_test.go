package query_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/eta"
	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/bus/embedded"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/query"
	"github.com/taskpulse/taskpulse/schema"
)

// serveRunning serves svc on a loopback port, as startAPI does, and runs
// its ETA tracker until the test ends.
func serveRunning(t *testing.T, svc *query.Service, tracker *eta.Tracker) *api {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		require.NoError(t, tracker.Run(ctx))
	}()
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler, DisableStartupMessage: true})
	svc.Routes(app.Group("", auth.Keys{}.Middleware()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go app.Listener(ln)
	a := &api{base: "http://" + ln.Addr().String(), client: &http.Client{Transport: &http.Transport{}}}
	t.Cleanup(func() {
		a.client.CloseIdleConnections()
		require.NoError(t, app.Shutdown())
		cancel()
		<-done
	})
	return a
}

func ptr[T any](v T) *T { return &v }

// reported is the events of a running task of taskType that started at
// start and reported progress at at.
func reported(id, taskType string, start, at int64, progress float64) []schema.Progress {
	return []schema.Progress{
		{TaskID: id, TaskType: taskType, Timestamp: start, Status: schema.StatusRunning, Progress: ptr(0.0)},
		{TaskID: id, TaskType: taskType, Timestamp: at, Status: schema.StatusRunning, Progress: &progress},
	}
}

// completedRun is a run whose first half of progress takes 30 s and whose
// second half takes 10 s.
func completedRun(id, taskType string, start int64) []schema.Progress {
	events := reported(id, taskType, start, start+30_000, 50)
	return append(events, schema.Progress{TaskID: id, TaskType: taskType, Timestamp: start + 40_000,
		Status: schema.StatusCompleted, Progress: ptr(100.0)})
}

func TestETACountsDownToOverdue(t *testing.T) {
	st := openStore(t)
	now := time.Now().UnixMilli()
	// 50 % in 40 s: 40 s left at its report a minute ago.
	insertProgress(t, st, reported("late", "build", now-100_000, now-60_000, 50)...)
	// 10 % in 99 s: about 15 minutes left at its report a second ago.
	insertProgress(t, st, reported("fresh", "build", now-100_000, now-1_000, 10)...)
	a := startAPI(t, allDeps(st))

	late := a.get(t, "/v1/tasks/late")
	require.Equal(t, http.StatusOK, late.status)
	require.Equal(t, true, late.body["eta_overdue"], string(late.raw))
	require.NotContains(t, late.body, "eta")
	require.Equal(t, "rate", late.body["eta_source"])

	fresh := a.get(t, "/v1/tasks/fresh")
	require.NotContains(t, fresh.body, "eta_overdue")
	require.Equal(t, "rate", fresh.body["eta_source"])
	require.InDelta(t, 891, fresh.body["eta"], 60, string(fresh.raw))

	list := a.get(t, "/v1/tasks")
	require.Equal(t, http.StatusOK, list.status)
	byID := map[string]map[string]any{}
	for _, v := range list.body["tasks"].([]any) {
		task := v.(map[string]any)
		byID[task["task_id"].(string)] = task
	}
	require.Equal(t, true, byID["late"]["eta_overdue"])
	require.Equal(t, fresh.body["eta"], byID["fresh"]["eta"])
}

func TestETAFromHistory(t *testing.T) {
	st := openStore(t)
	b, err := embedded.Open(filepath.Join(t.TempDir(), "bus"), embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })

	now := time.Now().UnixMilli()
	for i := range eta.MinRuns {
		insertProgress(t, st, completedRun(fmt.Sprint("build-", i), "build", now-int64(i+2)*3_600_000)...)
	}
	// Half way after 30 s: the rate says 30 s more, the history 10.
	insertProgress(t, st, reported("building", "build", now-30_000, now, 50)...)
	insertProgress(t, st, reported("scanning", "scan", now-30_000, now, 50)...)
	tracker := eta.NewTracker(eta.Config{}, b, st, slog.New(slog.DiscardHandler))
	a := serveRunning(t, query.New(query.Deps{Store: st, ETA: tracker}), tracker)

	// The first read asks for the tenant's history, which is read from
	// the store once the service follows the bus.
	historyOf := func(id string) reply {
		t.Helper()
		var r reply
		require.Eventually(t, func() bool {
			r = a.get(t, "/v1/tasks/"+id)
			return r.body["eta_source"] == "history"
		}, 20*time.Second, 20*time.Millisecond)
		return r
	}
	r := historyOf("building")
	require.LessOrEqual(t, r.body["eta"], 15.0, string(r.raw))
	require.Equal(t, r.body["eta"], r.body["eta_p50"])
	require.LessOrEqual(t, r.body["eta_p50"], r.body["eta_p90"])

	// Scans have no history in the store: they learn it from the runs the
	// bus carries from now on.
	require.Equal(t, "rate", a.get(t, "/v1/tasks/scanning").body["eta_source"])
	for i := range eta.MinRuns {
		run := completedRun(fmt.Sprint("scan-", i), "scan", now-int64(i+2)*3_600_000)
		recs := make([]bus.Record, len(run))
		for j := range run {
			run[j].Tenant, run[j].EventID = "default", fmt.Sprintf("scan-%d-%d", i, j)
			v, err := schema.EncodeProgress(&run[j])
			require.NoError(t, err)
			recs[j] = bus.Record{Topic: schema.TopicProgress, Key: []byte(run[j].TaskID), Value: v}
		}
		require.NoError(t, b.Publish(t.Context(), recs...))
	}
	r = historyOf("scanning")
	require.LessOrEqual(t, r.body["eta"], 15.0, string(r.raw))
}
