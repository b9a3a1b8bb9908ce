package alerting

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/schema"
)

func TestTaskStalledFiresAndResolves(t *testing.T) {
	onEachStore(t, func(t *testing.T, open storeOpener) {
		r := newReceiver(t, nil)
		e := newEnvOn(t, open, hookRules(r, `
  - id: stalled
    kind: task_stalled
    params: {stalled_after: 300ms}
    matchers: [{name: queue, op: "=~", value: "fast|slow"}]
    channels: [hook]
    notify_resolved: true
`))
		s := e.start(t)
		started := time.Now()
		e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusRunning, Attributes: map[string]string{"queue": "fast"}})
		e.taskEvent(t, schema.Progress{TaskID: "unmatched", Status: schema.StatusRunning, Attributes: map[string]string{"queue": "other"}})

		fired := s.waitDelivery(t, "stalled", "t1", "firing", schema.DeliverySent)
		require.GreaterOrEqual(t, time.Since(started), 299*time.Millisecond, "event times are whole milliseconds")
		require.Contains(t, fired.Body, "no update for 300ms")
		require.Equal(t, "fast", fired.Labels["queue"])

		e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusRunning, Attributes: map[string]string{"queue": "fast"}})
		s.waitDelivery(t, "stalled", "t1", "resolved", schema.DeliverySent)
		for _, n := range s.notifications(t, "") {
			require.Equal(t, "t1", n.TaskID, "the task with another queue must not alert")
		}
	})
}

// A task that was running when alerting started is found in the store, and
// an alert that fired before a restart is neither lost nor told again.
func TestTaskStalledAcrossRestart(t *testing.T) {
	r := newReceiver(t, nil)
	e := newEnv(t, hookRules(r, `
  - id: stalled
    kind: task_stalled
    params: {stalled_after: 200ms}
    channels: [hook]
    notify_resolved: true
`))
	// Only in the store: alerting was not running to see the event.
	p := schema.Progress{Tenant: auth.DefaultTenant, EventID: "e1", TaskID: "t1", TaskType: "x", Status: schema.StatusRunning, Timestamp: time.Now().UnixMilli()}
	require.NoError(t, e.store.InsertProgress(context.Background(), []schema.Progress{p}))

	a := e.start(t)
	a.waitDelivery(t, "stalled", "t1", "firing", schema.DeliverySent)
	a.stop()

	b := e.start(t)
	require.Eventually(t, func() bool {
		_, body := b.call(t, "GET", "/v1/alerts", "")
		alerts := body["alerts"].([]any)
		return len(alerts) == 1 && alerts[0].(map[string]any)["state"] == "firing"
	}, patience, 10*time.Millisecond)
	e.taskEvent(t, schema.Progress{TaskID: "t1", TaskType: "x", Status: schema.StatusCompleted})
	b.waitDelivery(t, "stalled", "t1", "resolved", schema.DeliverySent)
	require.Len(t, r.requests(), 2, "one firing (not told again after the restart) and one resolved")
}

func TestTaskSlow(t *testing.T) {
	onEachStore(t, func(t *testing.T, open storeOpener) {
		r := newReceiver(t, nil)
		e := newEnvOn(t, open, hookRules(r, `
  - id: too-long
    kind: task_slow
    task_type: build_package
    params: {max_duration: 300ms}
    channels: [hook]
    notify_resolved: true
  - id: crawling
    kind: task_slow
    task_type: scrape_docs
    params: {min_rate: 1000, rate_after: 200ms}
    channels: [hook]
`))
		s := e.start(t)
		progress := func(v float64) *float64 { return &v }
		e.taskEvent(t, schema.Progress{TaskID: "b1", TaskType: "build_package", Status: schema.StatusRunning})
		e.taskEvent(t, schema.Progress{TaskID: "s1", TaskType: "scrape_docs", Status: schema.StatusRunning, Progress: progress(1)})

		long := s.waitDelivery(t, "too-long", "b1", "firing", schema.DeliverySent)
		require.Contains(t, long.Body, "has run for more than 300ms")
		crawl := s.waitDelivery(t, "crawling", "s1", "firing", schema.DeliverySent)
		require.Contains(t, crawl.Body, "under the floor")

		e.taskEvent(t, schema.Progress{TaskID: "b1", TaskType: "build_package", Status: schema.StatusCompleted})
		s.waitDelivery(t, "too-long", "b1", "resolved", schema.DeliverySent)
	})
}
