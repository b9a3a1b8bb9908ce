package alerting

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

func TestBadRuleFileIsRefusedAndOldRulesKeepRunning(t *testing.T) {
	r := newReceiver(t, nil)
	good := fmt.Sprintf(webhookRuleYAML, r.URL)
	e := newEnv(t, good)
	s := e.start(t)

	e.writeRules(t, fmt.Sprintf(`
channels:
  hook: {type: webhook, url: %s}
  broken: {type: webhook}
rules:
  - id: stalled
    kind: task_stalled
    channels: [hook, nowhere]
  - id: cpu
    kind: metric_threshold
    params: {metric: cpu, agg: avg, window: 1m, op: "=", threshold: 1}
`, r.URL))
	err := s.Reload()
	var fe *FileError
	require.True(t, errors.As(err, &fe), "%v", err)
	msg := err.Error()
	for _, want := range []string{
		"channel broken: url is required",
		"rule stalled: params.stalled_after is required",
		"rule stalled: channels[1] names no configured channel: nowhere",
		"rule cpu: kind metric_threshold needs a store that keeps metrics",
		"rule cpu: params.op must be one of >, >=, <, <=",
	} {
		require.Contains(t, msg, want)
	}
	e.writeRules(t, "rules:\n  - id: x\n    kind: task_failed\n    sevrity: info\n")
	require.ErrorContains(t, s.Reload(), "field sevrity not found")

	// The rule of the good file still runs.
	e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed})
	s.waitDelivery(t, "failed", "t1", "firing", schema.DeliverySent)
	_, body := s.call(t, "GET", "/v1/alert-rules", "")
	require.Len(t, body["rules"], 1)

	// A good file replaces the rules.
	e.writeRules(t, `
rules:
  - id: failed-again
    kind: task_failed
  - id: stalled
    kind: task_stalled
    params: {stalled_after: 1h}
`)
	require.NoError(t, s.Reload())
	_, body = s.call(t, "GET", "/v1/alert-rules", "")
	require.Len(t, body["rules"], 2)
}

func TestNewRefusesABadRuleFile(t *testing.T) {
	e := newEnv(t, "rules:\n  - id: bad id\n    kind: task_failed\n")
	_, err := New(e.testConfig(), Deps{Bus: e.bus, Documents: e.store, Tasks: e.store})
	require.ErrorContains(t, err, "rule bad id: id must be")
}

func TestSilenceHoldsBackNotifications(t *testing.T) {
	r := newReceiver(t, nil)
	e := newEnv(t, hookRules(r, `
  - id: quiet
    kind: task_failed
    channels: [hook]
  - id: loud
    kind: task_failed
    task_type: scrape_docs
    channels: [hook]
`))
	s := e.start(t)
	status, body := s.call(t, "POST", "/v1/silences", `{"matchers":[{"name":"rule","op":"=","value":"quiet"}],"duration":"1h","comment":"maintenance"}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	require.Equal(t, "active", body["state"])
	id := body["id"].(string)

	e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed})
	e.taskEvent(t, schema.Progress{TaskID: "t2", TaskType: "scrape_docs", Status: schema.StatusFailed})
	// Events are evaluated in order, so once t2's notification is out,
	// t1's was held back.
	s.waitDelivery(t, "loud", "t2", "firing", schema.DeliverySent)
	for _, n := range s.notifications(t, "") {
		require.NotEqual(t, "quiet", n.Rule)
	}
	require.Equal(t, StateFiring, s.eval.alertState(alertKey{"default", "quiet", "t1"}), "a silence holds back notifications, not alerts")

	_, body = s.call(t, "GET", "/v1/silences", "")
	require.Len(t, body["silences"], 1)
	status, _ = s.call(t, "DELETE", "/v1/silences/"+id, "")
	require.Equal(t, http.StatusNoContent, status)
	// The firing held back is told once the silence is gone.
	s.waitDelivery(t, "quiet", "t1", "firing", schema.DeliverySent)

	status, body = s.call(t, "POST", "/v1/silences", `{"matchers":[],"ends_at":1}`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, fmt.Sprint(body), "matchers")
	require.Contains(t, fmt.Sprint(body), "ends_at")
}

func TestRulesAPI(t *testing.T) {
	e := newEnv(t, "channels:\n  hook: {type: webhook, url: http://127.0.0.1:1, tenants: [default]}\nrules:\n  - id: from-file\n    kind: task_failed\n")
	s := e.start(t)

	status, body := s.call(t, "POST", "/v1/alert-rules", `{"id":"api-1","name":"Slow builds","kind":"task_slow","task_type":"build_package","params":{"max_duration":"30m"},"severity":"critical","channels":["hook"],"notify_resolved":true}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	require.Equal(t, "api", body["source"])
	require.Equal(t, "4h0m0s", body["repeat_interval"])

	status, body = s.call(t, "POST", "/v1/alert-rules", `{"id":"api-1","kind":"task_failed"}`)
	require.Equal(t, http.StatusConflict, status, "%v", body)

	status, body = s.call(t, "POST", "/v1/alert-rules", `{"kind":"metric_threshold","channels":["nope"],"params":{"window":"1m"}}`)
	require.Equal(t, http.StatusBadRequest, status)
	fields := map[string]bool{}
	for _, d := range body["error"].(map[string]any)["details"].([]any) {
		fields[d.(map[string]any)["field"].(string)] = true
	}
	require.Equal(t, map[string]bool{"kind": true, "channels[0]": true, "params.metric": true, "params.agg": true, "params.op": true}, fields)

	status, _ = s.call(t, "POST", "/v1/alert-rules", `{"kind":"task_failed","bogus":1}`)
	require.Equal(t, http.StatusBadRequest, status)

	status, body = s.call(t, "PUT", "/v1/alert-rules/api-1", `{"kind":"task_stalled","params":{"stalled_after":"10m"}}`)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "task_stalled", body["kind"])
	status, body = s.call(t, "GET", "/v1/alert-rules/api-1", "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "10m0s", body["params"].(map[string]any)["stalled_after"])

	for _, m := range []string{"PUT", "DELETE"} {
		status, body = s.call(t, m, "/v1/alert-rules/from-file", `{"kind":"task_failed"}`)
		require.Equal(t, http.StatusConflict, status, "%s %v", m, body)
		require.Equal(t, codeConflict, body["error"].(map[string]any)["code"])
	}
	status, _ = s.call(t, "PUT", "/v1/alert-rules/missing", `{"kind":"task_failed"}`)
	require.Equal(t, http.StatusNotFound, status)

	_, body = s.call(t, "GET", "/v1/alert-rules", "")
	require.Len(t, body["rules"], 2)

	// Another process sees the API rule through the store.
	other := e.start(t)
	require.Eventually(t, func() bool {
		status, _ := other.call(t, "GET", "/v1/alert-rules/api-1", "")
		return status == http.StatusOK
	}, patience, 10*time.Millisecond)

	status, _ = s.call(t, "DELETE", "/v1/alert-rules/api-1", "")
	require.Equal(t, http.StatusNoContent, status)
	status, _ = s.call(t, "GET", "/v1/alert-rules/api-1", "")
	require.Equal(t, http.StatusNotFound, status)
	// A deleted id can be used again.
	status, body = s.call(t, "POST", "/v1/alert-rules", `{"id":"api-1","kind":"task_failed"}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)
}

func TestNotificationsAPI(t *testing.T) {
	e := newEnv(t, `
rules:
  - id: crit
    kind: task_failed
    severity: critical
    task_type: a
  - id: info
    kind: task_failed
    severity: info
    task_type: b
`)
	s := e.start(t)
	e.taskEvent(t, schema.Progress{TaskID: "t1", TaskType: "a", UserID: "alice", Status: schema.StatusFailed})
	e.taskEvent(t, schema.Progress{TaskID: "t2", TaskType: "b", UserID: "bob", Status: schema.StatusFailed})
	require.Eventually(t, func() bool { return len(s.notifications(t, "")) == 2 }, patience, 10*time.Millisecond)

	all := s.notifications(t, "")
	require.GreaterOrEqual(t, all[0].CreatedAt, all[1].CreatedAt, "newest first")
	require.Empty(t, all[0].Tenant)
	one := s.notifications(t, "user_id=alice")
	require.Len(t, one, 1)
	require.Equal(t, "t1", one[0].TaskID)
	require.Len(t, s.notifications(t, "severity=info"), 1)
	require.Len(t, s.notifications(t, "severity=info,critical&limit=1"), 1)
	require.Len(t, s.notifications(t, fmt.Sprintf("since=%d", all[0].CreatedAt+1)), 0)

	status, body := s.call(t, "POST", "/v1/notifications/"+one[0].ID+"/read", "")
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.NotZero(t, body["read_at"])
	unread := s.notifications(t, "unread=true")
	require.Len(t, unread, 1)
	require.Equal(t, "t2", unread[0].TaskID)

	status, _ = s.call(t, "POST", "/v1/notifications/nope/read", "")
	require.Equal(t, http.StatusNotFound, status)
	status, body = s.call(t, "GET", "/v1/notifications?colour=red", "")
	require.Equal(t, http.StatusBadRequest, status)
	require.True(t, strings.Contains(fmt.Sprint(body), "colour"))
}

func TestMetrics(t *testing.T) {
	r := newReceiver(t, func(n int, _ http.ResponseWriter) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	e := newEnv(t, fmt.Sprintf(webhookRuleYAML, r.URL))
	reg := prometheus.NewRegistry()
	e.registerer = reg
	s := e.start(t)
	e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed})
	s.waitDelivery(t, "failed", "t1", "firing", schema.DeliverySent)

	require.Equal(t, 1.0, gauge(t, reg, "taskpulse_alerting_delivery_attempts_total", "channel", "hook", "outcome", "sent"))
	require.Equal(t, 1.0, gauge(t, reg, "taskpulse_alerting_delivery_attempts_total", "channel", "hook", "outcome", "failed"))
	require.Positive(t, gauge(t, reg, "taskpulse_alerting_rule_evaluations_total", "kind", "task_failed"))
	require.Equal(t, 1.0, gauge(t, reg, "taskpulse_alerting_alerts", "state", "firing"))
	require.Equal(t, 0.0, gauge(t, reg, "taskpulse_alerting_alerts", "state", "pending"))
	require.Positive(t, gauge(t, reg, "taskpulse_alerting_rule_evaluation_duration_seconds", "kind", "task_failed"))
}

// gauge reads one sample of a gathered metric: a counter's or gauge's
// value, a histogram's sample count.
func gauge(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("no sample of %s with %v", name, labels)
	return 0
}

// A silenced firing is logged once, with its tenant, not at every
// evaluation; and once more when the silence no longer holds it back.
func TestSilencedAlertIsLoggedOncePerTransition(t *testing.T) {
	r := newReceiver(t, nil)
	e := newEnv(t, fmt.Sprintf(webhookRuleYAML, r.URL))
	var logs logBuffer
	e.logger = slog.New(slog.NewTextHandler(&logs, nil))
	s := e.start(t)
	status, body := s.call(t, "POST", "/v1/silences", `{"matchers":[{"name":"rule","op":"=","value":"failed"}],"duration":"1h"}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)

	e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed})
	require.Eventually(t, func() bool { return len(logs.lines("held back by a silence")) > 0 }, patience, 5*time.Millisecond)
	// The task check runs every 20ms and finds the firing untold each
	// time: give it many turns.
	time.Sleep(30 * e.testConfig().TaskCheckInterval)
	held := logs.lines("held back by a silence")
	require.Len(t, held, 1, "%v", held)
	for _, want := range []string{"tenant=default", "rule=failed", "group=t1", "transition=firing", "silence=" + body["id"].(string)} {
		require.Contains(t, held[0], want)
	}

	status, _ = s.call(t, "DELETE", "/v1/silences/"+body["id"].(string), "")
	require.Equal(t, http.StatusNoContent, status)
	s.waitDelivery(t, "failed", "t1", "firing", schema.DeliverySent)
	over := logs.lines("silence no longer holds the alert back")
	require.Len(t, over, 1, "%v", over)
	require.Contains(t, over[0], "tenant=default")
	require.Contains(t, over[0], "group=t1")
	require.Len(t, logs.lines("held back by a silence"), 1)
}
