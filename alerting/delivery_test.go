package alerting

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

const webhookRuleYAML = `
channels:
  hook:
    type: webhook
    url: %s
rules:
  - id: failed
    kind: task_failed
    channels: [hook]
`

func TestFailingReceiverGetsBackoffAndExactlyOneSuccess(t *testing.T) {
	r := newReceiver(t, func(n int, _ http.ResponseWriter) int {
		if n <= 3 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	e := newEnv(t, fmt.Sprintf(webhookRuleYAML, r.URL))
	s := e.start(t)
	e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed})

	n := s.waitDelivery(t, "failed", "t1", "firing", schema.DeliverySent)
	got := r.requests()
	require.Len(t, got, 4, "three failures, then one success and no more")
	for _, g := range got {
		require.Equal(t, n.ID, g.header.Get("X-TaskPulse-Notification-Id"))
	}
	atts := n.Deliveries[0].Attempts
	require.Len(t, atts, 4)
	for i, a := range atts[:3] {
		require.False(t, a.OK)
		require.Equal(t, http.StatusInternalServerError, a.Status, "attempt %d", i)
	}
	require.True(t, atts[3].OK)
	// Backoff doubles from 20ms, with jitter of at most half.
	require.GreaterOrEqual(t, got[1].at.Sub(got[0].at), 10*time.Millisecond)
	require.GreaterOrEqual(t, got[3].at.Sub(got[2].at), 40*time.Millisecond)
}

func TestRetryAfterIsHonoured(t *testing.T) {
	r := newReceiver(t, func(n int, w http.ResponseWriter) int {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			return http.StatusTooManyRequests
		}
		return http.StatusOK
	})
	e := newEnv(t, fmt.Sprintf(webhookRuleYAML, r.URL))
	s := e.start(t)
	e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed})

	n := s.waitDelivery(t, "failed", "t1", "firing", schema.DeliverySent)
	got := r.requests()
	require.Len(t, got, 2)
	require.GreaterOrEqual(t, got[1].at.Sub(got[0].at), time.Second, "the backoff alone would have been ~20ms")
	first := n.Deliveries[0].Attempts[0]
	require.Equal(t, http.StatusTooManyRequests, first.Status)
	require.Equal(t, int64(1000), first.RetryAfter)
}

func TestDeliveryGivesUp(t *testing.T) {
	f := func(name string, status, attempts int) {
		t.Run(name, func(t *testing.T) {
			r := newReceiver(t, func(int, http.ResponseWriter) int { return status })
			e := newEnv(t, fmt.Sprintf(webhookRuleYAML, r.URL))
			cfg := e.testConfig()
			cfg.Delivery.MaxAttempts = 3
			s := e.startWith(t, cfg)
			e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed})
			n := s.waitDelivery(t, "failed", "t1", "firing", schema.DeliveryGivenUp)
			require.Len(t, n.Deliveries[0].Attempts, attempts)
			require.Len(t, r.requests(), attempts)
			require.Zero(t, n.SentAt)
		})
	}
	f("after MaxAttempts", http.StatusBadGateway, 3)
	f("at once on a refusal", http.StatusBadRequest, 1)
}

func TestRestartMidRetryDeliversOnce(t *testing.T) {
	r := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusServiceUnavailable })
	e := newEnv(t, fmt.Sprintf(webhookRuleYAML, r.URL))
	cfg := e.testConfig()
	cfg.Delivery.MaxAttempts = 100
	cfg.Delivery.RetryMin, cfg.Delivery.RetryMax = 50*time.Millisecond, 50*time.Millisecond
	a := e.startWith(t, cfg)
	e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed})
	r.waitRequests(t, 2)
	a.stop()
	failures := len(r.requests())

	r.setAnswer(func(int, http.ResponseWriter) int { return http.StatusOK })
	b := e.startWith(t, cfg)
	n := b.waitDelivery(t, "failed", "t1", "firing", schema.DeliverySent)
	got := r.requests()
	require.Len(t, got, failures+1, "exactly one successful request after the restart")
	atts := n.Deliveries[0].Attempts
	require.Len(t, atts, failures+1, "the history holds the attempts of both processes")
	require.True(t, atts[len(atts)-1].OK)
	for _, a := range atts[:len(atts)-1] {
		require.Equal(t, http.StatusServiceUnavailable, a.Status)
	}
	// The alert survived the restart as told: no second notification.
	require.Len(t, b.notifications(t, ""), 1)
}

func TestTwoServicesDeliverEachNotificationOnce(t *testing.T) {
	r := newReceiver(t, nil)
	e := newEnv(t, fmt.Sprintf(webhookRuleYAML, r.URL))
	a, b := e.start(t), e.start(t)
	const tasks = 8
	for i := range tasks {
		e.taskEvent(t, schema.Progress{TaskID: fmt.Sprintf("t%d", i), Status: schema.StatusFailed})
	}
	require.Eventually(t, func() bool {
		ns := a.notifications(t, "")
		if len(ns) != tasks {
			return false
		}
		for _, n := range ns {
			if n.Deliveries[0].State != schema.DeliverySent {
				return false
			}
		}
		return true
	}, patience, 10*time.Millisecond)
	// Both processes tell every failure (an alert counts as told once its
	// notification is published); let the later copies on the topic be
	// consumed too, then count.
	for _, s := range []*service{a, b} {
		require.Eventually(t, func() bool {
			alerts := s.eval.alertsOf("default")
			for _, al := range alerts {
				if al.NotifiedAt == 0 {
					return false
				}
			}
			return len(alerts) == tasks
		}, patience, 10*time.Millisecond)
	}
	require.Eventually(t, func() bool { return e.bus.Lag(DefaultGroup) == 0 }, patience, 10*time.Millisecond)
	perID := map[string]int{}
	for _, g := range r.requests() {
		perID[g.header.Get("X-TaskPulse-Notification-Id")]++
	}
	require.Len(t, perID, tasks)
	for id, c := range perID {
		require.Equal(t, 1, c, "notification %s delivered %d times", id, c)
	}
	for _, n := range b.notifications(t, "") {
		require.Len(t, n.Deliveries[0].Attempts, 1)
	}
}
