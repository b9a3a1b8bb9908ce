package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// signalWatch is what users of the stream and alerting services see while
// a fault lasts: a WebSocket client following every task, and a task that
// fails once the fault has begun, whose alert must reach a webhook once.
type signalWatch struct {
	ws      *follower
	hook    *hookReceiver
	brokers []string
	prefix  string
	// failed is closed once ingest acknowledged the failure, at failedAt.
	failed   chan struct{}
	failedAt time.Time
}

// faultFailedTask is the task signalWatch fails during a fault.
const faultFailedTask = "fault-failed"

// watchSignals follows every task on stream and starts an alerting
// process, with start, whose rule calls a webhook for a failed task.
func watchSignals(t *testing.T, c *cluster, stream *process, start func(testing.TB, string, ...string) *process) *signalWatch {
	t.Helper()
	w := &signalWatch{ws: newFollower(), hook: newHookReceiver(t, "s3cret"), brokers: strings.Split(c.brokers, ","), prefix: c.prefix, failed: make(chan struct{})}
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	writeRules(t, rules, w.hook.URL, "fault-task-failed")
	start(t, "alerting", "--alert-rules", rules)
	w.ws.follow(t, stream)
	return w
}

// failDuring fails a task through load's ingests, as a careful client
// would, without holding the test up while ingest refuses.
func (w *signalWatch) failDuring(load *carefulLoad) {
	go func() {
		endpoint := 0
		body := fmt.Sprintf(`[{"task_id":%q,"event_id":"fault-failed-1","status":"failed","error":"fault","seq":1}]`, faultFailedTask)
		load.postUntilAccepted(&http.Client{Timeout: 30 * time.Second}, &endpoint, body)
		w.failedAt = time.Now()
		close(w.failed)
	}()
}

// finish checks that the WebSocket client was sent every acknowledged
// event and that the failure's alert was delivered once, and says how long
// the client went without a delivery between the fault and the load's end
// and how long the alert took.
func (w *signalWatch) finish(t *testing.T, fault, loadEnded time.Time, accepted map[string]int) {
	t.Helper()
	w.ws.waitEvery(t, accepted, "the WebSocket client")
	pause, at := w.ws.longestPause(fault, loadEnded)
	t.Logf("websockets: every acknowledged event delivered; the longest time without a delivery after the fault was %s, from %s after it",
		pause.Round(time.Millisecond), at.Sub(fault).Round(time.Millisecond))

	select {
	case <-w.failed:
	case <-time.After(3 * time.Minute):
		t.Fatal("ingest did not acknowledge the failed task within 3 minutes")
	}
	waitWithin(t, 3*time.Minute, "the failed task's alert reaches the webhook", func() []string {
		if w.hook.count() == 0 {
			return []string{"no call yet"}
		}
		return nil
	})
	waitFor(t, "the alerting group has taken every notification", func() []string {
		if lag := groupLag(t, w.brokers, w.prefix+"taskpulse-alerting", w.prefix+"notifications"); lag > 0 {
			return []string{fmt.Sprintf("%d records not committed", lag)}
		}
		return nil
	})
	w.hook.mu.Lock()
	defer w.hook.mu.Unlock()
	require.Len(t, w.hook.received, 1, "the failed task's alert is delivered once")
	require.Equal(t, faultFailedTask, w.hook.received[0].TaskID)
	require.Zero(t, w.hook.bad)
	t.Logf("alerts: the task failed %s after the fault was notified %s after its 202, once",
		w.failedAt.Sub(fault).Round(time.Millisecond), w.hook.at[0].Sub(w.failedAt).Round(time.Millisecond))
}
