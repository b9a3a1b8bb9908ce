package alerting

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// These tests feed metric and log rules from in-test readers, to set the
// exact value of each evaluation (hysteresis, a pending alert that ends);
// duckdb_rules_test.go runs the same kinds on the real store.

func TestMetricThresholdWithForAndRecovery(t *testing.T) {
	r := newReceiver(t, nil)
	e := newEnv(t, hookRules(r, `
  - id: queue-depth
    name: Queue too deep
    kind: metric_threshold
    params: {metric: queue_depth, agg: max, window: 1m, op: ">", threshold: 100, recovery: 80, group_by: [queue]}
    matchers: [{name: env, op: "=", value: prod}]
    for: 100ms
    interval: 20ms
    channels: [hook]
    notify_resolved: true
`))
	series := &fixedSeries{}
	e.series = series
	point := func(v float64) []store.Point { return []store.Point{{T: 1, V: v}} }
	series.set(store.Series{Labels: map[string]string{"queue": "q1"}, Points: point(150)},
		store.Series{Labels: map[string]string{"queue": "q2"}, Points: point(10)})
	s := e.start(t)

	fired := s.waitDelivery(t, "queue-depth", `queue="q1"`, "firing", schema.DeliverySent)
	require.Equal(t, "q1", fired.Labels["queue"])
	require.Contains(t, fired.Body, "max(queue_depth) over 1m0s is 150")
	require.Len(t, s.notifications(t, ""), 1, "q2 is under the threshold")
	series.mu.Lock()
	q := series.asked[0]
	series.mu.Unlock()
	require.Equal(t, store.SeriesQuery{Tenant: auth.DefaultTenant, Name: "queue_depth", Matchers: []store.Matcher{{Name: "env", Op: "=", Value: "prod"}},
		From: q.To - 60_000, To: q.To, Step: 60_000, Agg: store.AggMax, GroupBy: []string{"queue"}}, q)
	require.Zero(t, q.To%20, "evaluations fall on multiples of the interval")

	// Under the threshold but over the recovery level: still firing.
	series.set(store.Series{Labels: map[string]string{"queue": "q1"}, Points: point(90)})
	waitEvaluations(t, series, 5)
	require.Equal(t, StateFiring, s.eval.alertState(alertKey{auth.DefaultTenant, "queue-depth", `queue="q1"`}))

	series.set(store.Series{Labels: map[string]string{"queue": "q1"}, Points: point(70)})
	s.waitDelivery(t, "queue-depth", `queue="q1"`, "resolved", schema.DeliverySent)
	require.Len(t, r.requests(), 2)
}

// waitEvaluations waits until the reader has answered n more queries.
func waitEvaluations(t testing.TB, f *fixedSeries, n int) {
	t.Helper()
	f.mu.Lock()
	from := len(f.asked)
	f.mu.Unlock()
	require.Eventually(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.asked) >= from+n
	}, patience, 5*time.Millisecond)
}

func TestMetricPendingThatEndsIsNotTold(t *testing.T) {
	e := newEnv(t, `
rules:
  - id: cpu
    kind: metric_threshold
    params: {metric: cpu, agg: avg, window: 1m, op: ">=", threshold: 0.9}
    for: 1h
    interval: 20ms
`)
	series := &fixedSeries{}
	e.series = series
	series.set(store.Series{Labels: map[string]string{}, Points: []store.Point{{T: 1, V: 0.95}}})
	s := e.start(t)
	key := alertKey{auth.DefaultTenant, "cpu", ""}
	require.Eventually(t, func() bool { return s.eval.alertState(key) == StatePending }, patience, 5*time.Millisecond)
	series.set()
	require.Eventually(t, func() bool { return s.eval.alertState(key) == StateInactive }, patience, 5*time.Millisecond)
	require.Empty(t, s.notifications(t, ""))
}

func TestErrorLogRate(t *testing.T) {
	r := newReceiver(t, nil)
	e := newEnv(t, hookRules(r, `
  - id: errors
    kind: error_log_rate
    params: {window: 1h, threshold: 2}
    interval: 20ms
    channels: [hook]
    notify_resolved: true
`))
	logs := &fixedLogs{}
	e.logs = logs
	s := e.start(t)
	now := time.Now().UnixMilli()
	log := func(level schema.Level, ago int64) schema.Log {
		return schema.Log{Tenant: auth.DefaultTenant, Level: level, Message: "m", Timestamp: now - ago}
	}
	logs.add(log(schema.LevelError, 10), log(schema.LevelCritical, 20), log(schema.LevelWarning, 30), log(schema.LevelInfo, 40))
	logs.add(log(schema.LevelError, 2*3600_000)) // outside the window
	// Two errors are not more than two.
	require.Eventually(t, func() bool {
		_, body := s.call(t, "GET", "/v1/alerts", "")
		return len(body["alerts"].([]any)) == 0
	}, patience, 5*time.Millisecond)

	logs.add(log(schema.LevelError, 5))
	fired := s.waitDelivery(t, "errors", "", "firing", schema.DeliverySent)
	require.Contains(t, fired.Body, "3 ERROR or worse logs in 1h0m0s")

	logs.mu.Lock()
	logs.logs = nil
	logs.mu.Unlock()
	s.waitDelivery(t, "errors", "", "resolved", schema.DeliverySent)
}
