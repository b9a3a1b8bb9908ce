package main

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestUIProxyReachesTheServices serves the web UI from a process that
// runs the stream service alone, as the distributed deployment does, with
// --ui-query-url, --ui-alerting-url and --ui-tasks-url naming processes of
// their own on Kafka and ClickHouse. Through the stream's address the
// pages read tasks from query, ask a task's worker to cancel through the
// task API, and read, silence and mark alerts and notifications through
// alerting; and the pages themselves show what those services answer.
func TestUIProxyReachesTheServices(t *testing.T) {
	c := requireCluster(t)
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	writeRules(t, rules, newHookReceiver(t, "s3cret").URL, "proxied-failure")
	pipeline := c.start(t, "ingest,writer,tasks")
	query := c.start(t, "query")
	alerting := c.start(t, "alerting", "--alert-rules", rules)
	ui := c.start(t, "stream", "--ui-query-url", query.base, "--ui-alerting-url", alerting.base+"/", "--ui-tasks-url", pipeline.base)

	for _, e := range []string{event("proxied-run", 1, "running", 30), event("proxied-fail", 1, "failed", 60)} {
		r := pipeline.post(t, "", e)
		require.Equal(t, http.StatusAccepted, r.status, r.body)
	}

	// Reads: the stream process has no task API of its own.
	task := ui.waitTask(t, "", "proxied-run", "running", 1)
	require.Equal(t, float64(30), task["progress"])
	require.Len(t, ui.get(t, "", "/v1/tasks/proxied-run/events").body["events"], 1)

	// A control, asked of the task's worker by the task API, seen by query.
	r := ui.do(t, http.MethodPost, "/v1/tasks/proxied-run/cancel", "", "application/json", `{"requested_by":"ui proxy"}`)
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	require.Equal(t, "cancel", r.body["control"].(map[string]any)["action"])
	require.Eventually(t, func() bool {
		control, _ := ui.get(t, "", "/v1/tasks/proxied-run").body["control"].(map[string]any)
		return control["requested_by"] == "ui proxy"
	}, 30*time.Second, 100*time.Millisecond, "the query process shows the request made through the stream's address")

	// Alerts and notifications: the failed task's rule fires.
	alert := func() map[string]any {
		alerts := ui.get(t, "", "/v1/alerts").body["alerts"].([]any)
		for _, a := range alerts {
			if a := a.(map[string]any); a["task_id"] == "proxied-fail" && a["state"] == "firing" {
				return a
			}
		}
		return nil
	}
	require.Eventually(t, func() bool { return alert() != nil }, 60*time.Second, 200*time.Millisecond)
	require.Equal(t, false, alert()["silenced"])
	require.Eventually(t, func() bool {
		return ui.get(t, "", "/v1/notifications").body["unread"] == 1.0
	}, 30*time.Second, 200*time.Millisecond)

	r = ui.do(t, http.MethodPost, "/v1/silences", "", "application/json",
		`{"matchers":[{"name":"task_id","op":"=","value":"proxied-fail"}],"duration":"1h","comment":"through the UI's address"}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	silence := r.body["id"].(string)
	require.Equal(t, silence, alert()["silenced_by"])
	require.Len(t, alerting.get(t, "", "/v1/silences").body["silences"], 1, "the silence is alerting's")

	// The pages, served by the stream process, show what the others hold.
	b := startScript(t, "ui.mjs")
	b.open(ui.base + "/tasks/proxied-run")
	b.waitText("h2.task-title", "proxied-run")
	b.waitText(".facts .control-state", "cancel requested")
	b.waitText(".facts .control-state", "by ui proxy")
	b.open(ui.base + "/alerts")
	b.waitText(`#alerts article[data-rule="proxied-failure"] .silenced`, `task_id="proxied-fail"`)
	b.waitText("#unread-count", "(1 unread)")
	b.click(`#notifications-list li[data-read="false"] button`)
	b.waitText("#unread-count", "(0 unread)")
	require.Equal(t, 0.0, alerting.get(t, "", "/v1/notifications").body["unread"], "marked read at alerting")
}
