package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// screenshotsEnv names the directory the UI test saves its screenshots
// in, for CI to keep; without it they go to the test's artifact directory.
const screenshotsEnv = "TASKPULSE_UI_SCREENSHOTS"

// uiVisit drives one page of the UI at one width: it checks what every
// page must hold, saves the screenshot and fails on what axe-core finds
// serious or critical.
type uiVisit struct {
	b     *browser
	shots string
	width string // "phone" or "desktop"
}

func (v uiVisit) check(page string) {
	t := v.b.t
	t.Helper()
	v.b.do(map[string]any{"op": "visible", "selector": `#connection[data-state="live"]`})
	overflow := v.b.do(map[string]any{"op": "overflow"}).(float64)
	require.Zero(t, overflow, "%s at %s width is wider than the screen", page, v.width)
	v.b.do(map[string]any{"op": "screenshot", "path": filepath.Join(v.shots, v.width+"-"+page+".png")})
	findings := v.b.do(map[string]any{"op": "axe"}).([]any)
	require.Empty(t, findings, "axe-core on %s at %s width", page, v.width)
	require.Empty(t, v.b.do(map[string]any{"op": "problems"}), "errors in %s at %s width", page, v.width)
}

func (v uiVisit) fill(sel, value string) {
	v.b.t.Helper()
	v.b.do(map[string]any{"op": "fill", "selector": sel, "value": value})
}

func (v uiVisit) choose(sel, value string) {
	v.b.t.Helper()
	v.b.do(map[string]any{"op": "select", "selector": sel, "value": value})
}

func (v uiVisit) visible(sel string) {
	v.b.t.Helper()
	v.b.do(map[string]any{"op": "visible", "selector": sel})
}

func (v uiVisit) waitCount(sel string, n int) {
	v.b.t.Helper()
	v.b.do(map[string]any{"op": "count", "selector": sel, "value": n})
}

// TestUIPages runs a real server holding ten thousand tasks, a running
// task with more logs than a page and a metric, and a failed one whose
// rule fires, and goes through every page of the UI as a person would, at
// desktop and at phone width: the task list (its first render timed,
// filtered, searched, sorted, a task cancelled from its row's menu), a
// task's page (its logs, filtered, older pages, live, a chart of each
// metric it reported, one more appearing as it reports it, its controls), a new dashboard with one panel of each chart kind, one of
// them edited in place to a range of its own, and the alerts page (a
// silence made from the firing alert, the alert marked silenced, then the
// silence expired from the alert; a notification marked read, the unread
// count going down). Names hold markup, which must show as text.
func TestUIPages(t *testing.T) {
	b := startScript(t, "ui.mjs")
	shots := os.Getenv(screenshotsEnv)
	if shots == "" {
		shots = t.ArtifactDir()
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))

	rules := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rules, []byte(`
rules:
  - id: task-failed
    tenant: acme
    name: Task failed
    kind: task_failed
    task_type: create_skill
    severity: critical
`), 0o644))
	const key = "ui-pages-key-0123456789"
	srv := startServer(t, "--api-keys", key+"=acme", "--alert-rules", rules)
	post := func(path, body string) {
		t.Helper()
		r := srv.do(t, http.MethodPost, path, key, "application/json", body)
		require.Equal(t, http.StatusAccepted, r.status, r.body)
	}

	const bulk = 10000
	statuses := []string{"running", "completed", "failed", "pending", "paused", "cancelled"}
	var tasks bytes.Buffer
	tasks.WriteByte('[')
	for i := range bulk {
		if i > 0 {
			tasks.WriteByte(',')
		}
		fmt.Fprintf(&tasks, `{"task_id":"bulk-%05d","user_id":"u%d","task_type":"type_%d","task_name":"Bulk task %d","status":%q,"progress":%d}`,
			i, i%50, i%3, i, statuses[i%len(statuses)], i%101)
	}
	tasks.WriteByte(']')
	post("/v1/progress", tasks.String())

	// A long id, and a name that is markup: both must stay text.
	const id = "scrape-react-docs-0123456789abcdef0123456789abcdef0123456789"
	const name = `<img src=x id=injected> Scrape React docs`
	post("/v1/progress", `{"task_id":"`+id+`","user_id":"u-7","task_type":"scrape_docs","task_name":"`+name+`",
		"status":"running","progress":40,"current_step":"scraping","steps_done":8,"steps_total":20,"eta":300}`)
	// More logs than a page of history, an hour old, one a second: the
	// oldest are read only when asked for.
	const olderLogs = 1100
	var lines bytes.Buffer
	lines.WriteByte('[')
	hourAgo := time.Now().Add(-time.Hour).UnixMilli()
	for i := range olderLogs {
		if i > 0 {
			lines.WriteByte(',')
		}
		fmt.Fprintf(&lines, `{"task_id":%q,"level":"INFO","message":"line %04d","timestamp":%d}`, id, i, hourAgo+int64(i)*1000)
	}
	lines.WriteByte(']')
	post("/v1/logs", lines.String())
	post("/v1/logs", `[{"task_id":"`+id+`","level":"DEBUG","message":"cache miss"},
		{"task_id":"`+id+`","level":"INFO","message":"page 10 done","source":"scraper"},
		{"task_id":"`+id+`","level":"ERROR","message":"<b>page 11</b> refused"}]`)
	taskLogs := olderLogs + 3
	// Two metrics of the task, one with a unit that is markup, and a
	// sample of another task that its charts must leave out.
	const unit = `<img src=x id=injected>pages`
	post("/v1/metrics", `[{"name":"pages_scraped","kind":"counter","value":120,"unit":"`+unit+`","task_id":"`+id+`"},
		{"name":"pages_scraped","kind":"counter","value":160,"unit":"`+unit+`","task_id":"`+id+`"},
		{"name":"fetch_ms","value":340,"unit":"ms","task_id":"`+id+`"},
		{"name":"fetch_ms","value":9999,"unit":"ms","task_id":"skill-43"}]`)
	taskMetrics := 2
	post("/v1/progress", `{"task_id":"skill-43","user_id":"u-7","task_type":"create_skill","task_name":"Create skill","status":"running","progress":10}`)
	post("/v1/progress", `{"task_id":"skill-43","user_id":"u-7","task_type":"create_skill","status":"failed","error":"the site refused us"}`)
	srv.waitTask(t, key, "bulk-09999", statuses[9999%len(statuses)], 1)
	srv.waitTask(t, key, id, "running", 1)
	srv.waitTask(t, key, "skill-43", "failed", 2)

	var dashboard string // the address of the dashboard made at desktop width
	for _, width := range []struct {
		name          string
		width, height int
	}{{"desktop", 1280, 800}, {"phone", 420, 860}} {
		v := uiVisit{b: b, shots: shots, width: width.name}
		b.do(map[string]any{"op": "viewport", "width": width.width, "height": width.height})
		t.Run(width.name, func(t *testing.T) {
			b.t = t

			// The task list: the key leaves the address, the list is drawn
			// from the first page and fills up to every task.
			b.open(srv.base + "/tasks?api_key=" + key)
			first := b.do(map[string]any{"op": "mark", "value": "taskpulse:tasks-rendered"}).(float64)
			modules := b.do(map[string]any{"op": "answered", "value": "/web/page-tasks.js"}).(float64)
			firstPage := b.do(map[string]any{"op": "answered", "value": "/v1/tasks?limit="}).(float64)
			t.Logf("%s: first render of the task list, %d tasks in the store: %.0f ms after navigation (its script arrived at %.0f ms, the first tasks at %.0f ms)",
				width.name, bulk+2, first, modules, firstPage)
			b.waitText("#list-summary", fmt.Sprintf("of %s tasks", "10,002"))
			loaded := b.do(map[string]any{"op": "mark", "value": "taskpulse:tasks-loaded"}).(float64)
			t.Logf("%s: every task read and listed: %.0f ms after navigation", width.name, loaded)
			require.Equal(t, "/tasks", b.do(map[string]any{"op": "path"}), "the key is taken out of the address")
			require.Less(t, b.count("#task-list tr.task"), 100, "only the rows in sight are drawn")
			b.click(`.chip[data-status="failed"]`)
			b.waitText(`.chip[data-status="failed"][aria-pressed="true"]`, "1,668")
			require.Contains(t, b.do(map[string]any{"op": "path"}), "status=failed", "the filter is in the address")
			b.click(`.chip[data-status="all"]`)
			v.choose("#f-type", "scrape_docs")
			v.waitCount("#task-list tr.task", 1)
			v.choose("#f-type", "")
			v.fill("#f-search", "bulk-0004")
			v.waitCount("#task-list tr.task", 10)
			b.click(`button[data-sort="name"]`)
			b.waitAttr(`th[aria-sort]`, "aria-sort", "ascending")
			b.waitText("#task-list tr.task .task-name", "Bulk task 40")

			// A running task cancelled from its row's menu, which offers
			// what its status allows.
			running := map[string]string{"desktop": "bulk-00006", "phone": "bulk-00012"}[width.name]
			v.fill("#f-search", running)
			v.waitCount("#task-list tr.task", 1)
			b.click("#task-list tr.task button.more")
			v.visible(`#task-actions[open] button[data-op="pause"]`)
			v.check("tasks-actions")
			b.click(`#task-actions button[data-op="cancel"]`)
			b.waitText("#task-actions-status", "Cancel: asked")
			b.click("#task-actions .close")
			b.waitText("#task-list tr.task td:nth-child(2)", "cancel")
			task := srv.get(t, key, "/v1/tasks/"+running).body
			control, requests := task["control"].(map[string]any)
			if requests {
				// A cancel is a request the worker acknowledges.
				require.Equal(t, "cancel", control["action"])
				b.waitText("#task-list tr.task .control-state", "cancel")
			} else {
				require.Equal(t, "cancelled", task["status"])
				require.Zero(t, b.count("#task-list tr.task button.more"), "a cancelled task has nothing left to do")
			}

			v.fill("#f-search", "scrape-react")
			v.waitCount("#task-list tr.task", 1)
			b.waitText("#task-list .task-name", name)
			require.Zero(t, b.count("#injected"), "a name is never inserted as HTML")
			v.check("tasks")

			// The task's page: its state, timeline, logs (filtered, then
			// live), a metric chart and the controls the API has.
			b.click("#task-list .task-name")
			b.waitText("h2.task-title", "Scrape React docs")
			require.Equal(t, "/tasks/"+id, b.do(map[string]any{"op": "path"}))
			b.waitText(".facts", "scraping (8 of 20)")
			b.waitText(".facts", "left")
			b.waitText("#timeline", "running")
			b.waitText("#task-logs", "page 10 done")
			b.waitText("#task-logs", "<b>page 11</b> refused")
			require.Contains(t, b.waitText("#task-logs", "cache miss"), "DEBUG")
			hidden := taskLogs - 1000
			require.NotContains(t, b.waitText("#task-logs", fmt.Sprintf("line %04d", hidden)), fmt.Sprintf("line %04d", hidden-1), "a page of history is the newest 1,000")
			b.click("#load-older")
			b.waitText("#logs-status", fmt.Sprintf("%d older logs read; there are no older ones", hidden))
			require.Contains(t, b.waitText("#task-logs", "line 0000"), fmt.Sprintf("line %04d", hidden-1))
			v.waitCount("#load-older:not([hidden])", 0)
			v.choose("#log-level", "ERROR")
			require.NotContains(t, b.waitText("#task-logs", "refused"), "page 10 done")
			v.choose("#log-level", "DEBUG")
			v.fill("#log-search", "page 1")
			require.NotContains(t, b.waitText("#task-logs", "page 10 done"), "cache miss")
			v.fill("#log-search", "")
			post("/v1/logs", `{"task_id":"`+id+`","level":"WARNING","message":"slow page `+width.name+`"}`)
			taskLogs++
			b.waitText("#task-logs", "slow page "+width.name)
			v.visible(`.controls button[data-op="cancel"]`)
			v.waitCount("#task-metrics li.task-metric", taskMetrics)
			v.waitCount("#task-metrics .chart canvas", taskMetrics)
			require.Contains(t, b.waitText(`#task-metrics [data-metric="pages_scraped"] .metric-head`, "2 samples"), unit)
			b.waitText(`#task-metrics [data-metric="fetch_ms"] .metric-head`, "1 sample")
			require.NotContains(t, b.waitText(`#task-metrics [data-metric="fetch_ms"] .metric-head`, "ms"), "2 samples",
				"another task's sample is not the task's")
			require.Zero(t, b.count("#task-metrics .notice"), "every metric is charted")
			// A metric the running task starts reporting gets its chart.
			post("/v1/metrics", `{"name":"retries_`+width.name+`","value":1,"task_id":"`+id+`"}`)
			taskMetrics++
			v.waitCount("#task-metrics li.task-metric", taskMetrics)
			v.waitCount("#task-metrics .chart canvas", taskMetrics)
			require.Zero(t, b.count("#injected"), "a name is never inserted as HTML")
			v.check("task")

			// A pause asked of a task's worker, where the task API asks
			// workers: not acknowledged in time, then acknowledged by the
			// worker's report, in words.
			if requests {
				asked := map[string]string{"desktop": "bulk-00018", "phone": "bulk-00024"}[width.name]
				r := srv.do(t, http.MethodPost, "/v1/tasks/"+asked+"/pause", key, "application/json", `{"ack_timeout":"1s","requested_by":"ops <b>night</b>"}`)
				require.Equal(t, http.StatusAccepted, r.status, r.body)
				b.open(srv.base + "/tasks/" + asked)
				b.waitAttr(".facts .control-state", "data-state", "unacknowledged")
				said := b.waitText(".facts .control-state", "not acknowledged")
				require.Contains(t, said, "pause requested")
				require.Contains(t, said, "by ops <b>night</b>")
				v.check("task-control")
				post("/v1/progress", `{"task_id":"`+asked+`","status":"paused"}`)
				b.waitAttr(".facts .control-state", "data-state", "acknowledged")
				b.waitText("h2.task-title", "paused")
			}

			// Dashboards: made at desktop width with one panel of each
			// chart kind, and looked at again at phone width.
			b.open(srv.base + "/dashboards")
			if dashboard == "" {
				v.fill("#new-dashboard", "Pipeline <i>overview</i>")
				b.click("#create-dashboard")
				v.visible("#add-panel")
				dashboard, _, _ = strings.Cut(b.do(map[string]any{"op": "path"}).(string), "?")
				for i, kind := range []string{"line", "area", "bar", "pie", "gauge", "scatter", "heatmap", "table"} {
					v.fill("#add-panel-title", "Panel "+kind)
					v.choose("#add-panel-kind", kind)
					if kind != "pie" && kind != "scatter" && kind != "heatmap" {
						v.fill("#add-panel-metric", "pages_scraped")
					}
					b.click(`#add-panel button[type="submit"]`)
					b.waitText("#dash-status", fmt.Sprintf("Saved, version %d", i+2))
				}
				v.waitCount(`#panels [data-drawn="true"]`, 8)
				v.waitCount("#panels .chart", 7)

				// The line panel edited in place: another title, drawn as
				// bars, over six hours whatever the dashboard's range.
				b.click(`#panels section[data-chart="line"] button.edit-panel`)
				v.visible("#edit-panel-0")
				v.fill("#edit-panel-0-title", "Pages <b>scraped</b>")
				v.choose("#edit-panel-0-kind", "bar")
				v.choose("#edit-panel-0-range", "-6h")
				v.check("dashboard-panel-edit")
				b.click(`#edit-panel-0 button[type="submit"]`)
				b.waitText("#dash-status", "Saved, version 10")
				v.waitCount(`#panels [data-drawn="true"]`, 8)
				b.waitText(`#panels section[data-own-range="true"][data-chart="bar"] h3`, "Pages <b>scraped</b>")
				b.waitText(`#panels section[data-own-range="true"] h3`, "last 6 hours")
				v.check("dashboard-edit")
				b.click("#edit-dashboard")

				r := srv.get(t, key, "/v1/dashboards")
				require.Equal(t, http.StatusOK, r.status)
				ds := r.body["dashboards"].([]any)
				require.Len(t, ds, 1, "the dashboard made in the page is the API's")
				d := ds[0].(map[string]any)
				require.Equal(t, "Pipeline <i>overview</i>", d["title"])
				require.Len(t, d["panels"], 8)
				edited := d["panels"].([]any)[0].(map[string]any)
				require.Equal(t, "Pages <b>scraped</b>", edited["title"])
				require.Equal(t, "bar", edited["chart"])
				require.Equal(t, map[string]any{"source": "metric", "name": "pages_scraped", "from": "-6h"}, edited["query"])
				b.open(srv.base + "/dashboards")
			}
			b.waitText("#dashboards", "Pipeline <i>overview</i>")
			v.check("dashboards")
			b.open(srv.base + dashboard + "?range=6h&refresh=30")
			v.waitCount(`#panels [data-drawn="true"]`, 8)
			require.Equal(t, dashboard+"?range=6h&refresh=30", b.do(map[string]any{"op": "path"}), "the range and the refresh stay in the address")
			v.choose("#dash-range", "15m")
			v.waitCount(`#panels [data-drawn="true"]`, 8)
			v.waitCount(`#panels [data-own-range="true"]`, 1)
			b.waitText(`#panels [data-own-range="true"] h3`, "last 6 hours")
			v.check("dashboard")

			// Alerts: the failed task's rule fires; a silence is made from
			// it at desktop width and expired at phone width.
			b.open(srv.base + "/alerts")
			alert := `#alerts article[data-rule="task-failed"]`
			v.visible(alert)
			b.waitText("#notifications-list", "skill-43")
			if width.name == "desktop" {
				b.click(alert + ` button[type="submit"]`)
				b.waitText("#alerts-status", "Silenced task-failed for task skill-43")
				v.waitCount("#silences article", 1)
				r := srv.get(t, key, "/v1/silences")
				require.Len(t, r.body["silences"], 1)
				silence := r.body["silences"].([]any)[0].(map[string]any)
				alerts := srv.get(t, key, "/v1/alerts").body["alerts"].([]any)
				require.Equal(t, true, alerts[0].(map[string]any)["silenced"])
				require.Equal(t, silence["id"], alerts[0].(map[string]any)["silenced_by"])
				b.waitText(alert+" .silenced", `task_id="skill-43"`)
				v.visible(alert + " button.expire-silence")
				require.Zero(t, b.count(alert+" form.silence-form"), "a silenced alert offers to expire its silence, not another")

				b.waitText("#unread-count", "(1 unread)")
				b.waitText("#unread", "1")
				b.click(`#notifications-list li[data-read="false"] button`)
				b.waitText("#unread-count", "(0 unread)")
				v.waitCount("#unread:not([hidden])", 0)
				require.Equal(t, 0.0, srv.get(t, key, "/v1/notifications?limit=1").body["unread"])
			} else {
				v.waitCount("#silences article", 1)
				b.click(alert + " button.expire-silence")
				b.waitText("#alerts-status", "Silence expired")
				b.waitText("#silences", "No silences")
				v.visible(alert + " form.silence-form")
				v.waitCount(alert+" .silenced", 0)
				for _, sl := range srv.get(t, key, "/v1/silences").body["silences"].([]any) {
					require.Equal(t, "expired", sl.(map[string]any)["state"], "the silence holding the alert is expired")
				}
			}
			v.check("alerts")
		})
	}
	b.t = t

	// Without a key the page asks for one, once: the tab keeps it.
	b.do(map[string]any{"op": "forget"})
	b.open(srv.base + "/alerts")
	b.do(map[string]any{"op": "visible", "selector": "#key-input"})
	b.do(map[string]any{"op": "fill", "selector": "#key-input", "value": key})
	b.click(`#key-form button[type="submit"]`)
	b.do(map[string]any{"op": "visible", "selector": `#alerts article[data-rule="task-failed"]`})
	b.open(srv.base + "/tasks")
	b.waitText("#list-summary", "of 10,002 tasks")
	require.Equal(t, "/tasks", b.do(map[string]any{"op": "path"}))

	// The weight of the task list, the lightest page, and of a dashboard,
	// the heaviest: it loads the chart library.
	b.open(srv.base + "/tasks")
	b.do(map[string]any{"op": "mark", "value": "taskpulse:tasks-loaded"})
	logWeight(t, b, srv, "task list")
	b.open(srv.base + dashboard)
	b.do(map[string]any{"op": "count", "selector": `#panels [data-drawn="true"]`, "value": 8})
	logWeight(t, b, srv, "dashboard")
}

// logWeight logs the gzip size of the page's HTML and of every script
// and style sheet it loaded.
func logWeight(t *testing.T, b *browser, srv *server, page string) {
	t.Helper()
	weights := map[string]int{}
	for i, u := range b.do(map[string]any{"op": "loaded"}).([]any) {
		addr, err := url.Parse(u.(string))
		require.NoError(t, err)
		kind := strings.TrimPrefix(path.Ext(addr.Path), ".")
		switch {
		case i == 0:
			kind = "html"
		case !strings.HasPrefix(addr.Path, "/web/") || kind != "js" && kind != "css":
			continue // the API's answers, the icon
		}
		weights[kind] += gzipSize(t, srv.base+addr.Path)
	}
	t.Logf("%s page weight, gzip: HTML %.1f KiB, JS %.1f KiB, CSS %.1f KiB", page, kib(weights["html"]), kib(weights["js"]), kib(weights["css"]))
}

// gzipSize is the size of the file at addr, compressed as gzip -6 does.
func gzipSize(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get(addr)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, addr)
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, 6)
	require.NoError(t, err)
	_, err = io.Copy(zw, resp.Body)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Len()
}

func kib(n int) float64 { return float64(n) / 1024 }
