package alerting

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/alerting/channel"
	"github.com/taskpulse/taskpulse/schema"
)

const failedRuleYAML = `
channels:
  ops:
    type: webhook
    url: %s
    secret: s3cret
rules:
  - id: skill-failed
    name: Skill creation failed
    kind: task_failed
    task_type: create_skill
    severity: critical
    channels: [ops]
    notify_resolved: true
`

func TestTaskFailedFiresAndResolvesThroughSignedWebhook(t *testing.T) {
	onEachStore(t, func(t *testing.T, open storeOpener) {
		r := newReceiver(t, nil)
		e := newEnvOn(t, open, fmt.Sprintf(failedRuleYAML, r.URL))
		s := e.start(t)

		e.taskEvent(t, schema.Progress{TaskID: "t1", TaskName: "docs", Status: schema.StatusRunning})
		e.taskEvent(t, schema.Progress{TaskID: "other", TaskType: "scrape_docs", Status: schema.StatusFailed})
		e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed, Error: "scraper timed out"})

		got := r.waitRequests(t, 1)
		req := got[0]
		require.NoError(t, channel.Verify("s3cret", req.header.Get(channel.HeaderSignature), req.body, time.Now(), time.Minute))
		require.ErrorIs(t, channel.Verify("wrong", req.header.Get(channel.HeaderSignature), req.body, time.Now(), time.Minute), channel.ErrBadSignature)
		n := decodeNotification(t, req.body)
		require.Equal(t, n.ID, req.header.Get(channel.HeaderNotificationID))
		require.Equal(t, "skill-failed", n.Rule)
		require.Equal(t, "t1", n.TaskID)
		require.Equal(t, "u1", n.UserID)
		require.Equal(t, "firing", n.State)
		require.Equal(t, schema.SeverityCritical, n.Severity)
		require.Contains(t, n.Body, "scraper timed out")

		stored := s.waitDelivery(t, "skill-failed", "t1", "firing", schema.DeliverySent)
		require.Equal(t, n.ID, stored.ID)
		require.Len(t, stored.Deliveries[0].Attempts, 1)
		require.True(t, stored.Deliveries[0].Attempts[0].OK)
		require.NotZero(t, stored.SentAt)

		// A retry of the task that completes resolves the alert.
		e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusCompleted})
		got = r.waitRequests(t, 2)
		resolved := decodeNotification(t, got[1].body)
		require.Equal(t, "resolved", resolved.State)
		require.NotEqual(t, n.ID, resolved.ID)
		s.waitDelivery(t, "skill-failed", "t1", "resolved", schema.DeliverySent)
		require.Len(t, r.requests(), 2, "the other task_type must not alert")
	})
}

func TestWebhookTemplate(t *testing.T) {
	r := newReceiver(t, nil)
	e := newEnv(t, fmt.Sprintf(`
channels:
  chat:
    type: webhook
    url: %s
    content_type: text/plain
    template: '{{.State}} {{.Rule}} {{.TaskID}} {{json .Title}}'
rules:
  - id: failed
    name: Failed "task"
    kind: task_failed
    channels: [chat]
`, r.URL))
	e.start(t)
	e.taskEvent(t, schema.Progress{TaskID: "t9", Status: schema.StatusFailed})
	got := r.waitRequests(t, 1)
	require.Equal(t, `firing failed t9 "Failed \"task\""`, string(got[0].body))
	require.Equal(t, "text/plain", got[0].header.Get("Content-Type"))
	require.Empty(t, got[0].header.Get(channel.HeaderSignature), "no secret, no signature")
}

// A template that renders more than any receiver needs is given up, not
// sent.
func TestWebhookBodyIsCapped(t *testing.T) {
	r := newReceiver(t, nil)
	e := newEnv(t, fmt.Sprintf(`
channels:
  big: {type: webhook, url: %s, template: '{{printf "%%300000d" 1}}'}
rules:
  - id: failed
    kind: task_failed
    channels: [big]
`, r.URL))
	s := e.start(t)
	e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed})
	n := s.waitDelivery(t, "failed", "t1", "firing", schema.DeliveryGivenUp)
	require.Contains(t, n.Deliveries[0].Attempts[0].Error, "over 256 KiB")
	require.Empty(t, r.requests())
}

// The history of attempts, shown to tenants, never quotes a channel's
// URL, whose path and userinfo carry tokens.
func TestDeliveryErrorsDoNotQuoteURLs(t *testing.T) {
	e := newEnv(t, `
channels:
  team: {type: slack, url: "http://user:pw@127.0.0.1:1/services/T0/B0/SECRETTOKEN"}
rules:
  - id: failed
    kind: task_failed
    channels: [team]
`)
	s := e.start(t)
	e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed})
	n := s.waitDelivery(t, "failed", "t1", "firing", schema.DeliveryGivenUp)
	for _, a := range n.Deliveries[0].Attempts {
		require.NotEmpty(t, a.Error)
		require.NotContains(t, a.Error, "SECRETTOKEN")
		require.NotContains(t, a.Error, "pw@")
	}
}
