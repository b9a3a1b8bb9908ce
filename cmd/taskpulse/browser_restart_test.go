package main

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLivePageCatchesUpAfterRestart stops the taskpulse serve process
// under an open live page, completes a task while the page cannot see it,
// and starts the process again on the same address and data directory:
// the page goes from live to reconnecting and back to live, and shows the
// task completed at 100 % without having received the update live.
func TestLivePageCatchesUpAfterRestart(t *testing.T) {
	b := startBrowser(t)
	const key = "restart-page-key-0123456789"
	dir := t.TempDir()
	addr := loopbackAddr(t)
	srv := serveAt(t, dir, addr, "--api-keys", key+"=acme")
	post := func(srv *process, task string, seq int, fields string) {
		t.Helper()
		body := `{"task_id":"` + task + `","user_id":"u1","task_name":"Build package <b>` + task + `</b>","seq":` + strconv.Itoa(seq) + "," + fields + "}"
		r := srv.post(t, key, body)
		require.Equal(t, http.StatusAccepted, r.status, r.body)
	}

	post(srv, "t1", 1, `"status":"running","progress":40,"current_step":"packaging"`)
	srv.waitTask(t, key, "t1", "running", 1)
	b.open(srv.base + "/?api_key=" + key)
	row := `#tasks tr[data-task-id="t1"]`
	b.waitAttr("#connection", "data-state", "live")
	b.waitAttr(row+" [role=progressbar]", "aria-valuenow", "40")
	// Names are text, never markup.
	b.waitText(row+" .task-name", "Build package <b>t1</b>")
	require.Zero(t, b.count(row+" .task-name b"))

	srv.terminate(t)
	b.waitAttr("#connection", "data-state", "reconnecting")
	b.waitText("#connection", "reconnecting in")

	// While the page is away, a second process on the same data directory,
	// at an address the page does not know, takes the task's final state
	// and a new task.
	other := serveAt(t, dir, loopbackAddr(t), "--api-keys", key+"=acme")
	post(other, "t1", 2, `"status":"completed","progress":100,"message":"done"`)
	post(other, "t2", 1, `"status":"running","progress":5`)
	other.waitTask(t, key, "t1", "completed", 2)
	other.waitTask(t, key, "t2", "running", 1)
	other.terminate(t)

	serveAt(t, dir, addr, "--api-keys", key+"=acme")
	b.waitAttr("#connection", "data-state", "live")
	b.waitText(row+" .status", "completed")
	b.waitAttr(row+" [role=progressbar]", "aria-valuenow", "100")
	b.waitText(row+" .message", "done")
	b.waitAttr(`#tasks tr[data-task-id="t2"] [role=progressbar]`, "aria-valuenow", "5")
	require.Equal(t, 2, b.count("#tasks tbody tr"), "one row per task")
	b.screenshot("caught-up.png")
	require.Empty(t, b.do(map[string]any{"op": "problems"}), "errors in the page")
}

// loopbackAddr returns a free loopback address, which a server that
// restarts must find free again: its port is below the ephemeral range the
// system hands to outgoing connections meanwhile.
func loopbackAddr(t testing.TB) string {
	t.Helper()
	for range 100 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(20000+rand.IntN(10000)))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free loopback port between 20000 and 29999")
	return ""
}

// serveAt runs taskpulse serve on addr and dir and waits until it is ready.
func serveAt(t testing.TB, dir, addr string, args ...string) *process {
	t.Helper()
	bin, err := buildBinary()
	require.NoError(t, err)
	cmd := exec.Command(bin, append([]string{"serve", "--listen", addr, "--data-dir", dir, "--writer-wait", "20ms"}, args...)...)
	cmd.Stderr = &prefixWriter{t: t, prefix: addr}
	require.NoError(t, cmd.Start())
	p := &process{server: &server{base: "http://" + addr, dir: dir}, cmd: cmd}
	t.Cleanup(p.kill)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, waitReady(ctx, p.base))
	return p
}

// terminate stops the process as its operator would, with SIGTERM, and
// waits until it has exited cleanly.
func (p *process) terminate(t testing.TB) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p.cmd.Wait())
}
