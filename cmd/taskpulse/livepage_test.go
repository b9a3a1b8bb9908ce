package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/app"
)

// requireBrowser returns Debian's chromium and the node_modules holding
// playwright-core, from TASKPULSE_CHROMIUM and TASKPULSE_PLAYWRIGHT, which
// deploy/browser.sh prints. Without them the test is skipped, except in
// CI, where a missing browser is a failure.
func requireBrowser(t testing.TB) (chromium, playwright string) {
	t.Helper()
	chromium, playwright = os.Getenv("TASKPULSE_CHROMIUM"), os.Getenv("TASKPULSE_PLAYWRIGHT")
	if chromium == "" || playwright == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but TASKPULSE_CHROMIUM or TASKPULSE_PLAYWRIGHT is not set: install them with deploy/browser.sh")
		}
		t.Skip("set TASKPULSE_CHROMIUM and TASKPULSE_PLAYWRIGHT (eval \"$(bash deploy/browser.sh | sed 's/^/export /')\") to run the browser test")
	}
	return chromium, playwright
}

// browser is headless Chromium with one page, driven by
// testdata/livepage.mjs one command at a time.
type browser struct {
	t   *testing.T
	in  io.Writer
	out *bufio.Scanner
}

func startBrowser(t *testing.T) *browser { return startScript(t, "livepage.mjs") }

// startScript runs headless Chromium driven by the testdata script, which
// reads one command a line and answers each with one line.
func startScript(t *testing.T, script string) *browser {
	t.Helper()
	chromium, playwright := requireBrowser(t)
	node, err := exec.LookPath("node")
	require.NoError(t, err, "node runs playwright-core")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", script))
	cmd.Env = append(os.Environ(), "TASKPULSE_CHROMIUM="+chromium, "TASKPULSE_PLAYWRIGHT="+playwright,
		"PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		// The script closes the browser at the end of its input.
		in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("%s stderr:\n%s", script, stderr.String())
		}
	})
	// Answers can carry screenshots' and axe-core's findings.
	scanner := bufio.NewScanner(out)
	scanner.Buffer(make([]byte, 1<<20), 64<<20)
	return &browser{t: t, in: in, out: scanner}
}

// do sends one command and returns its answer's value; a command that
// fails fails the test with what the page showed instead.
func (b *browser) do(cmd map[string]any) any {
	b.t.Helper()
	line, err := json.Marshal(cmd)
	require.NoError(b.t, err)
	_, err = b.in.Write(append(line, '\n'))
	require.NoError(b.t, err, "the browser script has ended")
	require.True(b.t, b.out.Scan(), "the browser script ended: %v", b.out.Err())
	var answer struct {
		OK    bool   `json:"ok"`
		Value any    `json:"value"`
		Error string `json:"error"`
		Seen  any    `json:"seen"`
	}
	require.NoError(b.t, json.Unmarshal(b.out.Bytes(), &answer), b.out.Text())
	require.True(b.t, answer.OK, "%s\nthe page shows: %v", answer.Error, answer.Seen)
	return answer.Value
}

func (b *browser) open(url string) { b.t.Helper(); b.do(map[string]any{"op": "goto", "url": url}) }
func (b *browser) click(sel string) {
	b.t.Helper()
	b.do(map[string]any{"op": "click", "selector": sel})
}

// waitAttr waits until the element's attribute has the value.
func (b *browser) waitAttr(sel, name, value string) {
	b.t.Helper()
	b.do(map[string]any{"op": "attr", "selector": sel, "name": name, "value": value})
}

// waitText waits until the element's text contains part and returns the text.
func (b *browser) waitText(sel, part string) string {
	b.t.Helper()
	return b.do(map[string]any{"op": "text", "selector": sel, "value": part}).(string)
}

// screenshot saves the page in the test's artifact directory, which
// go test -artifacts keeps.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	b.do(map[string]any{"op": "screenshot", "path": filepath.Join(b.t.ArtifactDir(), name)})
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	return int(b.do(map[string]any{"op": "count", "selector": sel}).(float64))
}

// TestLivePage opens the built-in page in headless Chromium with an API
// key in its address, and follows a task: its row from the snapshot, then
// live progress in place, the logs of the clicked task from its minimum
// level, a server restart the page reconnects from by itself, and the
// notification of a task_failed rule when the task fails.
func TestLivePage(t *testing.T) {
	b := startBrowser(t)
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rules, []byte(`
rules:
  - id: task-failed
    tenant: acme
    name: Task failed
    kind: task_failed
    severity: critical
`), 0o644))
	const key = "live-page-key-0123456789"
	args := []string{"--api-keys", key + "=acme", "--alert-rules", rules}
	srv := startServer(t, args...)
	post := func(path, body string) {
		t.Helper()
		r := srv.do(t, http.MethodPost, path, key, "application/json", body)
		require.Equal(t, http.StatusAccepted, r.status, r.body)
	}
	progress := func(seq int, fields string) {
		t.Helper()
		post("/v1/progress", `{"task_id":"t1","user_id":"u1","task_type":"create_skill","task_name":"Create skill: React docs","seq":`+
			strconv.Itoa(seq)+","+fields+"}")
	}

	progress(1, `"status":"running","progress":10,"current_step":"queued"`)
	srv.waitTask(t, key, "t1", "running", 1)
	b.open(srv.base + "/?api_key=" + key)
	row := `#tasks tr[data-task-id="t1"]`
	bar := row + " [role=progressbar]"
	b.waitAttr("#connection", "data-state", "live")
	b.waitAttr(bar, "aria-valuenow", "10")
	b.waitText(row+" .task-name", "Create skill: React docs")

	// Live progress updates the row in place.
	progress(2, `"status":"running","progress":35,"current_step":"scraping","steps_done":7,"steps_total":20,"message":"fetched 140 pages","eta":120`)
	b.waitAttr(bar, "aria-valuenow", "35")
	b.waitText(row+" .step", "scraping (7/20)")
	b.waitText(row+" .message", "fetched 140 pages")
	b.waitText(row+" .eta", "min")
	progress(3, `"status":"running","progress":60,"current_step":"scraping"`)
	b.waitAttr(bar, "aria-valuenow", "60")
	post("/v1/progress", `{"task_id":"t2","status":"running","progress":5}`)
	b.waitAttr(`#tasks tr[data-task-id="t2"] [role=progressbar]`, "aria-valuenow", "5")
	require.Equal(t, 2, b.count("#tasks tbody tr"), "one row per task")
	b.screenshot("running.png")

	// A click follows the task's logs at INFO and above: a DEBUG line
	// posted before an INFO one of the same task is never shown.
	b.click(row + " .task-name")
	b.waitText("#logs-hint", "Following t1 at INFO and above")
	post("/v1/logs", `[{"task_id":"t1","level":"DEBUG","message":"cache miss"},
		{"task_id":"t1","level":"INFO","message":"page 10 done","source":"scraper"}]`)
	logs := b.waitText("#logs", "page 10 done")
	require.NotContains(t, logs, "cache miss")

	// A restarted server: the page reconnects and follows the same task,
	// its progress and its logs.
	srv = restartServer(t, srv, args...)
	b.waitAttr("#connection", "data-state", "live")
	progress(4, `"status":"running","progress":80,"current_step":"packaging"`)
	b.waitAttr(bar, "aria-valuenow", "80")
	post("/v1/logs", `{"task_id":"t1","level":"WARNING","message":"slow page"}`)
	b.waitText("#logs", "slow page")

	// A failed task turns its row red and raises the rule's notification.
	progress(5, `"status":"failed","error":"timed out on /docs/hooks"`)
	b.waitText(row+" .status", "failed")
	b.waitText(row+" .message", "timed out on /docs/hooks")
	b.waitAttr(bar, "aria-valuenow", "80")
	notes := b.waitText("#notifications", "task t1")
	require.Contains(t, notes, "Task failed")
	require.Contains(t, notes, "critical")

	b.screenshot("failed.png")
	require.Empty(t, b.do(map[string]any{"op": "problems"}), "errors in the page")
}

// restartServer stops srv and serves again on its address and data
// directory, as a restarted process would, so that a page left open finds
// the server where it was.
func restartServer(t *testing.T, srv *server, args ...string) *server {
	t.Helper()
	srv.stop()
	addr := strings.TrimPrefix(srv.base, "http://")
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	fs := flagSetForTest()
	var s app.Settings
	s.RegisterFlags(fs)
	require.NoError(t, s.Parse(fs, append([]string{"--data-dir", srv.dir, "--listen", addr, "--writer-wait", "20ms"}, args...)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, &s, ln, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.NoError(t, waitReady(ctx, srv.base))
	return &server{base: srv.base, dir: srv.dir}
}
