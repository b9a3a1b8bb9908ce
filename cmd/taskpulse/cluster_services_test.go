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

// TestEveryServiceTwiceOnTheClusters runs two processes of every service on
// the Kafka and ClickHouse clusters: events posted through both ingests
// reach a WebSocket client on each stream process and are read exactly
// once through each query process, a task made on one task API process
// fails on the other, and the alert that fires is delivered once although
// both alerting processes see it.
func TestEveryServiceTwiceOnTheClusters(t *testing.T) {
	s := requireScaledOut(t)
	hook := newHookReceiver(t, "s3cret")
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	writeRules(t, rules, hook.URL, "cluster-task-failed")

	s.twice(t, "writer")
	ingests := s.twice(t, "ingest")
	queries := s.twice(t, "query")
	streams := s.twice(t, "stream")
	alerting := s.twice(t, "alerting", "--alert-rules", rules)
	tasks := s.twice(t, "tasks")

	followers := [2]*follower{newFollower(), newFollower()}
	for i, f := range followers {
		f.follow(t, streams[i])
	}

	load := startCarefulLoad(2, bases(ingests[:]...)...)
	load.waitMore(t, 2000, 90*time.Second, "both ingests acknowledge")
	accepted := load.finish()

	mustTask(t, tasks[0].server, http.MethodPost, "/v1/tasks", `{"task_id":"cluster-job","user_id":"u-ops","task_type":"create_skill","status":"running"}`, http.StatusCreated)
	// The other process finds the task in the store, once a writer has
	// put it there.
	queries[1].waitTask(t, "", "cluster-job", "running", 1)
	mustTask(t, tasks[1].server, http.MethodPost, "/v1/tasks/cluster-job/fail", `{"error":"site unreachable"}`, http.StatusOK)

	for i, q := range queries {
		waitCounts(t, q, accepted)
		q.waitTask(t, "", "cluster-job", "failed", 2)
		t.Logf("query %d reads every one of %d acknowledged events over %d tasks once", i+1, load.total(), len(accepted))
	}
	for i, f := range followers {
		f.waitEvery(t, accepted, fmt.Sprintf("the WebSocket client of stream %d", i+1))
	}

	// Both alerting processes follow every task, so both see the alert
	// fire; the notifications topic is delivered in one group, so one of
	// them sends it, once, whichever published it.
	for _, a := range alerting {
		waitFor(t, "alerting process "+a.base+" sees the alert firing", func() []string {
			if !strings.Contains(scrape(t, a), `taskpulse_alerting_alerts{state="firing"} 1`) {
				return []string{"not firing"}
			}
			return nil
		})
	}
	require.Eventually(t, func() bool { return hook.count() >= 1 }, time.Minute, 20*time.Millisecond, "the webhook is called")
	waitFor(t, "the alerting group has taken every notification", func() []string {
		if lag := groupLag(t, s.brokers, s.prefix+"taskpulse-alerting", s.prefix+"notifications"); lag > 0 {
			return []string{fmt.Sprintf("%d records not committed", lag)}
		}
		return nil
	})
	hook.mu.Lock()
	defer hook.mu.Unlock()
	require.Len(t, hook.received, 1, "the notification is delivered once")
	require.Equal(t, "cluster-task-failed", hook.received[0].Rule)
	require.Equal(t, "cluster-job", hook.received[0].TaskID)
	require.Zero(t, hook.bad)
}
