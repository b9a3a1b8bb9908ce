package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/alerting/channel"
	"github.com/taskpulse/taskpulse/schema"
)

// hookReceiver is a webhook endpoint that checks each request's signature
// and keeps the notifications it was sent, with when they arrived.
type hookReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	received []schema.Notification
	at       []time.Time
	bad      int
}

func newHookReceiver(t testing.TB, secret string) *hookReceiver {
	r := &hookReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var n schema.Notification
		r.mu.Lock()
		defer r.mu.Unlock()
		if channel.Verify(secret, req.Header.Get(channel.HeaderSignature), body, time.Now(), time.Minute) != nil || json.Unmarshal(body, &n) != nil {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.received = append(r.received, n)
		r.at = append(r.at, time.Now())
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.received)
}

func writeRules(t testing.TB, path, hookURL, ruleID string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(`
channels:
  hook: {type: webhook, url: %s, secret: s3cret}
rules:
  - id: %s
    kind: task_failed
    severity: critical
    channels: [hook]
`, hookURL, ruleID)), 0o644))
}

// TestFailedTaskAlertsEveryWay runs the built binary with a rules file: a
// failed task reaches a signed webhook once, the user's WebSocket and the
// notifications API; SIGHUP loads a changed file, and a broken one is
// refused while the loaded rules keep working.
func TestFailedTaskAlertsEveryWay(t *testing.T) {
	hook := newHookReceiver(t, "s3cret")
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	writeRules(t, rules, hook.URL, "job-failed")
	p := startBinary(t, filepath.Join(dir, "data"), "--alert-rules", rules, "--writer-wait", "20ms")
	p.patience = 20 * time.Second

	ws := p.dial(t, "", "notifications_user_id=u1")
	ws.next(t, "subscribed")
	require.Equal(t, http.StatusAccepted, p.post(t, "", event("t1", 1, "running", 10)).status)
	require.Equal(t, http.StatusAccepted, p.post(t, "", event("t1", 2, "failed", 40)).status)

	pushed := ws.next(t, "notification")["notification"].(map[string]any)
	require.Equal(t, "t1", pushed["task_id"])
	require.Equal(t, "job-failed", pushed["rule"])
	require.Eventually(t, func() bool { return hook.count() == 1 }, p.patience, 10*time.Millisecond)

	list := p.get(t, "", "/v1/notifications?user_id=u1&unread=true")
	require.Equal(t, http.StatusOK, list.status, list.body)
	notes := list.body["notifications"].([]any)
	require.Len(t, notes, 1)
	id := notes[0].(map[string]any)["id"].(string)
	require.Equal(t, pushed["id"], id)
	require.Equal(t, http.StatusOK, p.do(t, http.MethodPost, "/v1/notifications/"+id+"/read", "", "", "").status)
	require.Empty(t, p.get(t, "", "/v1/notifications?user_id=u1&unread=true").body["notifications"])

	// A changed file is read on SIGHUP.
	writeRules(t, rules, hook.URL, "job-failed-v2")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool {
		got := p.get(t, "", "/v1/alert-rules").body["rules"].([]any)
		return len(got) == 1 && got[0].(map[string]any)["id"] == "job-failed-v2"
	}, p.patience, 20*time.Millisecond)

	// A broken file is refused and the loaded rule keeps firing.
	require.NoError(t, os.WriteFile(rules, []byte("rules:\n  - id: x\n    kind: task_exploded\n"), 0o644))
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	require.Equal(t, http.StatusAccepted, p.post(t, "", event("t2", 1, "failed", 5)).status)
	require.Eventually(t, func() bool { return hook.count() == 2 }, p.patience, 10*time.Millisecond)
	hook.mu.Lock()
	defer hook.mu.Unlock()
	require.Equal(t, "job-failed-v2", hook.received[1].Rule)
	require.Zero(t, hook.bad, "every webhook request carries a valid signature")
}

// BenchmarkFailedEventToWebhook times each failed event from its 202 to
// its webhook's arrival, all-in-one, and reports p50 and p99:
//
//	go test -run '^$' -bench FailedEventToWebhook -benchtime 200x ./cmd/taskpulse/
func BenchmarkFailedEventToWebhook(b *testing.B) {
	hook := newHookReceiver(b, "s3cret")
	rules := filepath.Join(b.TempDir(), "rules.yaml")
	writeRules(b, rules, hook.URL, "job-failed")
	srv := startServer(b, "--alert-rules", rules)
	acked := make([]time.Time, b.N)
	b.ResetTimer()
	for i := range b.N {
		require.Equal(b, http.StatusAccepted, srv.post(b, "", event(fmt.Sprintf("w%d", i), 1, "failed", 1)).status)
		acked[i] = time.Now()
		require.Eventually(b, func() bool { return hook.count() == i+1 }, 30*time.Second, time.Millisecond)
	}
	b.StopTimer()
	hook.mu.Lock()
	defer hook.mu.Unlock()
	lat := make([]time.Duration, b.N)
	for i, n := range hook.received {
		var k int
		_, err := fmt.Sscanf(n.TaskID, "w%d", &k)
		require.NoError(b, err)
		lat[i] = hook.at[i].Sub(acked[k])
	}
	slices.Sort(lat)
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
}

// TestExampleRulesFileLoads keeps the example the README points at valid.
func TestExampleRulesFileLoads(t *testing.T) {
	srv := startServer(t, "--alert-rules", filepath.Join("..", "..", "deploy", "alert-rules.example.yaml"))
	r := srv.get(t, "", "/v1/alert-rules")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Len(t, r.body["rules"], 6)
}
