package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// examplePage is the README's example of the browser client, served by a
// site of its own: BASE and KEY stand for the server and its API key.
const examplePage = `<!doctype html>
<title></title>
<ul id="tasks"></ul>
<script type="module">
  import { connect } from "BASE/web/taskpulse.js";
  const stream = connect({ url: "BASE", apiKey: "KEY", onStatus: (s) => (document.title = s) });
  stream.on("task", ({ task, removed }) => {
    const li = document.getElementById(` + "`task:${task.task_id}`" + `) ?? document.getElementById("tasks").appendChild(document.createElement("li"));
    li.id = ` + "`task:${task.task_id}`" + `;
    if (removed) li.remove();
    else li.textContent = ` + "`${task.task_name || task.task_id}: ${task.status} ${task.progress}%`" + `;
  });
  stream.subscribe({ user_id: "u-7" });
</script>`

// TestClientModuleFromAnotherOrigin runs the README's example on a page of
// another origin: it imports the module from the server, follows a user's
// tasks from their snapshot and live, and sees no other user's.
func TestClientModuleFromAnotherOrigin(t *testing.T) {
	b := startBrowser(t)
	const key = "module-page-key-0123456789"
	srv := startServer(t, "--api-keys", key+"=acme")
	post := func(body string) {
		t.Helper()
		r := srv.post(t, key, body)
		require.Equal(t, http.StatusAccepted, r.status, r.body)
	}
	post(`{"task_id":"t1","user_id":"u-7","task_name":"Scrape <i>docs</i>","status":"running","progress":35,"seq":1}`)
	srv.waitTask(t, key, "t1", "running", 1)

	ln, err := net.Listen("tcp", loopbackAddr(t))
	require.NoError(t, err)
	site := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(strings.NewReplacer("BASE", srv.base, "KEY", key).Replace(examplePage)))
	}))
	site.Listener = ln
	site.Start()
	t.Cleanup(site.Close)

	b.open(site.URL)
	b.waitText("title", "live")
	b.waitText(`[id="task:t1"]`, "Scrape <i>docs</i>: running 35%")
	post(`{"task_id":"t2","user_id":"u-8","status":"running","progress":1}`)
	post(`{"task_id":"t1","user_id":"u-7","status":"completed","progress":100,"seq":2}`)
	b.waitText(`[id="task:t1"]`, "Scrape <i>docs</i>: completed 100%")
	require.Equal(t, 1, b.count("#tasks li"), "only the tasks of u-7")
	require.Zero(t, b.count("#tasks i"), "names are text")

	// Without a network the client waits for it rather than retrying, and
	// is live again as soon as the browser is back online.
	b.do(map[string]any{"op": "offline", "value": true})
	srv = restartServer(t, srv, "--api-keys", key+"=acme")
	b.waitText("title", "offline")
	post(`{"task_id":"t3","user_id":"u-7","status":"pending","progress":0}`)
	srv.waitTask(t, key, "t3", "pending", 1)
	b.do(map[string]any{"op": "offline", "value": false})
	b.waitText("title", "live")
	b.waitText(`[id="task:t3"]`, "t3: pending 0%")
	require.Empty(t, b.do(map[string]any{"op": "problems"}), "errors in the page")
}
