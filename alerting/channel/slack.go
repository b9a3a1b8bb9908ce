package channel

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/taskpulse/taskpulse/schema"
)

// slack posts to a Slack incoming webhook: text for notifications and
// clients that do not render blocks, blocks for those that do.
type slack struct {
	url     string
	timeout time.Duration
	client  *http.Client
}

// SlackMessage is the body of an incoming-webhook request.
type SlackMessage struct {
	Text   string       `json:"text"`
	Blocks []SlackBlock `json:"blocks"`
}

// SlackBlock is a Block Kit block: a header, a section or a context.
type SlackBlock struct {
	Type     string      `json:"type"`
	Text     *SlackText  `json:"text,omitempty"`
	Elements []SlackText `json:"elements,omitempty"`
}

// SlackText is a Block Kit text object.
type SlackText struct {
	Type string `json:"type"` // plain_text or mrkdwn
	Text string `json:"text"`
}

func (s *slack) Send(ctx context.Context, n *schema.Notification) error {
	body, err := json.Marshal(slackMessage(n))
	if err != nil {
		return &Error{Permanent: true, Err: fmt.Errorf("encode slack message: %w", err)}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return post(ctx, s.client, s.timeout, s.url, body, h)
}

func slackMessage(n *schema.Notification) SlackMessage {
	icon := map[string]string{"firing": ":rotating_light:", "resolved": ":white_check_mark:"}[n.State]
	title := strings.TrimSpace(icon + " " + n.Title)
	facts := []string{"*Severity:* " + string(n.Severity), "*State:* " + n.State, "*Rule:* " + n.Rule}
	if n.TaskID != "" {
		facts = append(facts, "*Task:* "+n.TaskID)
	}
	blocks := []SlackBlock{{Type: "header", Text: &SlackText{Type: "plain_text", Text: truncate(title, 150)}}}
	if n.Body != "" {
		blocks = append(blocks, SlackBlock{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: truncate(n.Body, 3000)}})
	}
	blocks = append(blocks, SlackBlock{Type: "context", Elements: []SlackText{{Type: "mrkdwn", Text: strings.Join(facts, "  ")}}})
	return SlackMessage{Text: title + ": " + n.Body, Blocks: blocks}
}

// truncate keeps s within Slack's per-block limits, on a rune boundary.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
