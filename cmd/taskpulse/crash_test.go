package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/duckdb"
)

// buildBinary builds taskpulse once per test run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "taskpulse-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "taskpulse")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// process is the built binary serving on a data directory.
type process struct {
	*server
	cmd *exec.Cmd
}

func startProcess(t *testing.T, dir string) *process {
	t.Helper()
	bin, err := buildBinary()
	require.NoError(t, err)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cmd := exec.Command(bin, "serve", "--listen", addr, "--data-dir", dir, "--writer-wait", "20ms")
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	p := &process{server: &server{base: "http://" + addr, dir: dir}, cmd: cmd}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	require.NoError(t, waitReady(context.Background(), p.base))
	return p
}

// TestKilledProcessLosesNoAcceptedEvent posts from several clients, kills
// the process with SIGKILL while they are still posting, restarts it on
// the same data directory and finds every event that got a 202.
func TestKilledProcessLosesNoAcceptedEvent(t *testing.T) {
	dir := t.TempDir()
	p := startProcess(t, dir)

	var mu sync.Mutex
	accepted := map[string]int{} // task id -> events accepted
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				task := fmt.Sprintf("crash-%d-%d", w, i)
				body := progressBody(event(task, 1, "running", 10), event(task, 2, "running", 20), event(task, 3, "completed", 100))
				req, _ := http.NewRequest(http.MethodPost, p.base+"/v1/progress", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the process is gone
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					mu.Lock()
					accepted[task] = 3
					mu.Unlock()
				}
			}
		}()
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(accepted) >= 200 }, 30*time.Second, 5*time.Millisecond)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
	close(stop)
	wg.Wait()

	p = startProcess(t, dir)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d tasks accepted before the kill", len(accepted))
	for task, n := range accepted {
		p.waitTask(t, "", task, "completed", n)
	}
}

// TestStopDrainsTheWriter stops the process with SIGTERM right after
// posting and then reads the store file directly: the writer must have
// stored every accepted event before exiting.
func TestStopDrainsTheWriter(t *testing.T) {
	dir := t.TempDir()
	p := startProcess(t, dir)
	const tasks = 50
	for i := 0; i < tasks; i++ {
		r := p.post(t, "", event(fmt.Sprintf("drain-%d", i), 1, "running", 5))
		require.Equal(t, http.StatusAccepted, r.status)
	}
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p.cmd.Wait(), "a graceful stop exits 0")

	st, err := duckdb.Open(filepath.Join(dir, "taskpulse.duckdb"), duckdb.Options{})
	require.NoError(t, err)
	defer st.Close()
	got, err := st.Tasks(context.Background(), store.TaskFilter{Tenant: auth.DefaultTenant, Limit: tasks * 2})
	require.NoError(t, err)
	require.Len(t, got, tasks)
}
