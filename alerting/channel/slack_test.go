package channel

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestSlackBody(t *testing.T) {
	r := newReceiver(t, nil)
	s := newSender(t, Config{Type: TypeSlack, URL: r.URL})
	require.NoError(t, s.Send(context.Background(), notification()))
	got := r.requests()[0]
	require.Equal(t, "application/json", got.header.Get("Content-Type"))
	require.Empty(t, got.header.Get(HeaderSignature), "Slack URLs are their own secret")

	var msg SlackMessage
	require.NoError(t, json.Unmarshal(got.body, &msg), string(got.body))
	require.Equal(t, ":rotating_light: Skill failed: task t1 failed: disk full", msg.Text)
	require.Len(t, msg.Blocks, 3)
	require.Equal(t, SlackBlock{Type: "header", Text: &SlackText{Type: "plain_text", Text: ":rotating_light: Skill failed"}}, msg.Blocks[0])
	require.Equal(t, SlackBlock{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: "task t1 failed: disk full"}}, msg.Blocks[1])
	require.Equal(t, "context", msg.Blocks[2].Type)
	require.Equal(t, "*Severity:* critical  *State:* firing  *Rule:* failed  *Task:* t1", msg.Blocks[2].Elements[0].Text)
}

func TestSlackMessage(t *testing.T) {
	n := notification()
	n.State, n.Title, n.Body, n.TaskID = "resolved", "Queue deep", "", ""
	msg := slackMessage(n)
	require.Equal(t, ":white_check_mark: Queue deep", msg.Blocks[0].Text.Text)
	require.Len(t, msg.Blocks, 2, "no section without a body")
	require.NotContains(t, msg.Blocks[1].Elements[0].Text, "Task", "no task, no task fact")

	// Block Kit's limits, cut on a rune boundary.
	n.Title, n.Body = strings.Repeat("é", 100), strings.Repeat("x", 4000)
	msg = slackMessage(n)
	header, section := msg.Blocks[0].Text.Text, msg.Blocks[1].Text.Text
	require.LessOrEqual(t, len(header), 150)
	require.True(t, utf8.ValidString(header))
	require.True(t, strings.HasSuffix(header, "…"))
	require.Len(t, section, 3000)
}
