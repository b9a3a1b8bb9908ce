package alerting

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/alerting/channel"
	"github.com/taskpulse/taskpulse/alerting/channel/channeltest"
	"github.com/taskpulse/taskpulse/schema"
)

func TestSlackMessage(t *testing.T) {
	r := newReceiver(t, nil)
	e := newEnv(t, fmt.Sprintf(`
channels:
  team:
    type: slack
    url: %s
rules:
  - id: failed
    name: Skill failed
    kind: task_failed
    severity: critical
    channels: [team]
`, r.URL))
	e.start(t)
	e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed, Error: "boom"})
	got := r.waitRequests(t, 1)
	var msg channel.SlackMessage
	require.NoError(t, json.Unmarshal(got[0].body, &msg), string(got[0].body))
	require.Contains(t, msg.Text, "Skill failed")
	require.Contains(t, msg.Text, "boom")
	require.Equal(t, "header", msg.Blocks[0].Type)
	require.Equal(t, "plain_text", msg.Blocks[0].Text.Type)
	require.Contains(t, msg.Blocks[0].Text.Text, "Skill failed")
	require.Equal(t, "section", msg.Blocks[1].Type)
	require.Contains(t, msg.Blocks[1].Text.Text, "boom")
	require.Equal(t, "context", msg.Blocks[2].Type)
	require.Contains(t, msg.Blocks[2].Elements[0].Text, "*Severity:* critical")
	require.Equal(t, "application/json", got[0].header.Get("Content-Type"))
}

func TestEmailOverSMTPWithSTARTTLS(t *testing.T) {
	srv := channeltest.StartSMTP(t)
	e := newEnv(t, fmt.Sprintf(`
channels:
  oncall:
    type: email
    smtp: %s
    from: taskpulse@example.com
    to: [oncall@example.com, lead@example.com]
    username: alerts
    password: pw
    tls_ca_file: %s
    require_tls: true
rules:
  - id: failed
    name: Skill failed
    kind: task_failed
    severity: critical
    channels: [oncall]
`, srv.Addr, srv.CAFile))
	s := e.start(t)
	e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed, Error: "disk full"})
	n := s.waitDelivery(t, "failed", "t1", "firing", schema.DeliverySent)

	m := srv.Message(t)
	require.True(t, m.TLS, "the server offered STARTTLS, so the mail must have used it")
	require.Equal(t, "alerts", m.User)
	require.Equal(t, "taskpulse@example.com", m.From)
	require.Equal(t, []string{"oncall@example.com", "lead@example.com"}, m.To)
	require.Contains(t, m.Data, "Subject: [CRITICAL] Skill failed")
	require.Contains(t, m.Data, "X-TaskPulse-Notification-Id: "+n.ID)
	require.Contains(t, m.Data, "disk full")
}
