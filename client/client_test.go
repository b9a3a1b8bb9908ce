package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/client"
)

func newClient(t testing.TB, url string, cfg client.Config) *client.Client {
	t.Helper()
	cfg.URL = url
	cfg.FlushInterval = cmpOr(cfg.FlushInterval, 20*time.Millisecond)
	cfg.BackoffBase = cmpOr(cfg.BackoffBase, 10*time.Millisecond)
	cfg.BackoffMax = cmpOr(cfg.BackoffMax, 200*time.Millisecond)
	c, err := client.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

func cmpOr[T comparable](v, fallback T) T {
	var zero T
	if v == zero {
		return fallback
	}
	return v
}

// settle flushes c, then waits until sentinels sent after everything
// else are stored: the writer keeps each topic's order, so what came
// before them is stored too, and counts can be compared exactly.
func settle(t testing.TB, s *server, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	require.NoError(t, c.Flush(ctx))
	direct := newClient(t, s.base, client.Config{})
	sentinel := direct.Task("sentinel", client.TaskInfo{})
	sentinel.Log("INFO", "sentinel")
	sentinel.Complete("")
	require.NoError(t, direct.Close(ctx))
	s.waitTask(t, "sentinel", "completed", 1)
	require.Eventually(t, func() bool { return len(s.taskLogs(t, "sentinel")) == 1 }, patience, 10*time.Millisecond)
}

func flush(t testing.TB, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	require.NoError(t, c.Flush(ctx))
}

func TestRunReportsRunningThenCompleted(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s.base, client.Config{})
	err := c.Run(context.Background(), "scrape-react", client.TaskInfo{Type: "scrape_docs", StepsTotal: 20},
		func(_ context.Context, task *client.Task) error {
			task.Log("INFO", "fetched 140 pages")
			task.Metric("pages", 140, map[string]string{"site": "react.dev"})
			return task.Update(client.Update{Progress: client.Percent(35), Step: "scraping", Message: "140 pages", StepsDone: 7})
		})
	require.NoError(t, err)
	flush(t, c)
	state := s.waitTask(t, "scrape-react", "completed", 3)
	require.Equal(t, float64(100), state["progress"])
	require.Equal(t, float64(20), state["steps_done"])
	require.Equal(t, "scrape_docs", state["task_type"])
	events := s.get(t, "/v1/tasks/scrape-react/events")["events"].([]any)
	middle := events[1].(map[string]any)
	require.Equal(t, []any{float64(35), "scraping", "140 pages"}, []any{middle["progress"], middle["current_step"], middle["message"]})
	require.Eventually(t, func() bool { return len(s.taskLogs(t, "scrape-react")) == 1 }, patience, 10*time.Millisecond)
	require.Equal(t, client.Stats{Sent: 5}, c.Stats())
}

func TestRunFailsOnErrorAndPanic(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s.base, client.Config{})
	err := c.Run(context.Background(), "failing", client.TaskInfo{}, func(context.Context, *client.Task) error {
		return errors.New("no pages")
	})
	require.EqualError(t, err, "no pages")
	require.PanicsWithValue(t, "out of range", func() {
		c.Run(context.Background(), "panicking", client.TaskInfo{}, func(context.Context, *client.Task) error {
			panic("out of range")
		})
	})
	err = c.Run(context.Background(), "stopped", client.TaskInfo{}, func(context.Context, *client.Task) error {
		return fmt.Errorf("shutting down: %w", context.Canceled)
	})
	require.ErrorIs(t, err, context.Canceled)
	flush(t, c)
	require.Equal(t, "no pages", s.waitTask(t, "failing", "failed", 2)["error"])
	require.Equal(t, "panic: out of range", s.waitTask(t, "panicking", "failed", 2)["error"])
	s.waitTask(t, "stopped", "cancelled", 2)
}

func TestRetryAfterA503(t *testing.T) {
	s := startServer(t)
	p := startProxy(t, s.base, "503", "503")
	c := newClient(t, p.base, client.Config{})
	c.Run(context.Background(), "through-503", client.TaskInfo{}, func(context.Context, *client.Task) error { return nil })
	flush(t, c)
	s.waitTask(t, "through-503", "completed", 2)
	gaps := p.gaps()
	require.Len(t, gaps, 2)
	for _, gap := range gaps {
		require.GreaterOrEqual(t, gap, 900*time.Millisecond, "Retry-After: 1 not honoured")
	}
	require.Equal(t, client.Stats{Sent: 2, Retries: 2}, c.Stats())
}

func TestBatchRetriedAfterALostAnswerIsStoredOnce(t *testing.T) {
	s := startServer(t)
	p := startProxy(t, s.base, "lose")
	c := newClient(t, p.base, client.Config{FlushInterval: time.Hour, MaxBatch: 1000})
	task := c.Task("lost-answer", client.TaskInfo{})
	task.Start()
	for i := range 50 {
		task.Log("INFO", fmt.Sprintf("line %d", i))
	}
	task.Complete("")
	settle(t, s, c)
	require.GreaterOrEqual(t, c.Stats().Retries, uint64(1))
	require.Equal(t, float64(2), s.get(t, "/v1/tasks/lost-answer")["events"])
	require.Len(t, s.taskLogs(t, "lost-answer"), 50)
}

func TestServerStoppedAndStartedAgain(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s.base, client.Config{})
	s.stop()
	task := c.Task("outage", client.TaskInfo{StepsTotal: 10})
	task.Start()
	for i := range 10 {
		require.NoError(t, task.Update(client.Update{StepsDone: int64(i + 1)}))
	}
	task.Complete("")
	require.Eventually(t, func() bool { return c.Stats().Retries >= 3 }, patience, 10*time.Millisecond)
	s.start(t)
	settle(t, s, c)
	require.Equal(t, float64(12), s.get(t, "/v1/tasks/outage")["events"])
	require.Equal(t, client.Stats{Sent: 12, Retries: c.Stats().Retries}, c.Stats())
}

func TestRateLimit429IsWaitedOut(t *testing.T) {
	s := startServer(t, "--ingest-events-rate", "200", "--ingest-events-burst", "100")
	c := newClient(t, s.base, client.Config{MaxBatch: 50})
	for i := range 400 {
		c.Log(client.Log{TaskID: "limited", Level: "INFO", Message: fmt.Sprintf("line %d", i)})
	}
	flush(t, c)
	require.Equal(t, uint64(400), c.Stats().Sent)
	require.GreaterOrEqual(t, c.Stats().Retries, uint64(1))
	require.Eventually(t, func() bool { return len(s.taskLogs(t, "limited")) == 400 }, patience, 10*time.Millisecond)
}

func TestFullQueueDropsAndCountsButKeepsTheFinalStatus(t *testing.T) {
	s := startServer(t)
	// No batch leaves before the final status, so the queue fills.
	c := newClient(t, s.base, client.Config{MaxQueue: 10, MaxBatch: 1000, FlushInterval: time.Hour})
	task := c.Task("overflow", client.TaskInfo{})
	task.Start()
	for i := range 30 {
		require.NoError(t, task.Update(client.Update{Progress: client.Percent(float64(i))}))
	}
	task.Complete("")
	settle(t, s, c)
	require.Equal(t, client.Stats{Sent: 11, Dropped: 21}, c.Stats())
	s.waitTask(t, "overflow", "completed", 11)
}

func TestItemsTheServerRefusesAreDroppedAndTheRestSent(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s.base, client.Config{FlushInterval: time.Hour})
	c.Log(client.Log{TaskID: "refusals", Level: "INFO", Message: "first"})
	c.Log(client.Log{TaskID: strings.Repeat("x", 300), Level: "INFO", Message: "too long an id"})
	c.Log(client.Log{TaskID: "refusals", Level: "LOUD", Message: "no such level"})
	c.Log(client.Log{TaskID: "refusals", Level: "INFO", Message: "fourth"})
	settle(t, s, c)
	require.Equal(t, client.Stats{Sent: 2, Rejected: 2}, c.Stats())
	var messages []string
	for _, l := range s.taskLogs(t, "refusals") {
		messages = append(messages, l.(map[string]any)["message"].(string))
	}
	require.ElementsMatch(t, []string{"first", "fourth"}, messages)
}

func TestCloseCountsWhatItCouldNotSend(t *testing.T) {
	s := startServer(t)
	s.stop()
	c := newClient(t, s.base, client.Config{})
	for i := range 5 {
		c.Metric(client.Metric{Name: "queue_depth", Value: float64(i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := c.Close(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, uint64(5), c.Stats().Unsent)
	require.Zero(t, c.Stats().Queued)
}

func TestNewRefusesSettingsThatCannotWork(t *testing.T) {
	for _, cfg := range []client.Config{{}, {URL: "http://127.0.0.1:1", MaxBatch: -1}, {URL: "http://127.0.0.1:1", FlushInterval: -time.Second}} {
		_, err := client.New(cfg)
		require.Error(t, err, "%+v", cfg)
	}
}
