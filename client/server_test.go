package client_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/app"
)

// patience bounds every wait for the server.
const patience = 30 * time.Second

// listen listens on a free loopback port picked at random in 20000-29999.
func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	for {
		a := addr
		if a == "" {
			a = fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(10000))
		}
		ln, err := net.Listen("tcp", a)
		if err == nil {
			return ln
		}
		require.Empty(t, addr, "cannot listen on %s again: %v", addr, err)
	}
}

// server is an all-in-one TaskPulse in the test process, which can be
// stopped and started again on its address and data directory.
type server struct {
	addr, dir, base string
	args            []string
	stop            func()
}

func startServer(t testing.TB, args ...string) *server {
	t.Helper()
	s := &server{dir: t.TempDir(), args: args}
	s.start(t)
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *server) start(t testing.TB) {
	t.Helper()
	ln := listen(t, s.addr)
	s.addr = ln.Addr().String()
	s.base = "http://" + s.addr
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var settings app.Settings
	settings.RegisterFlags(fs)
	require.NoError(t, settings.Parse(fs, append([]string{"--data-dir", s.dir, "--listen", s.addr, "--writer-wait", "20ms"}, s.args...)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, &settings, ln, slog.New(slog.DiscardHandler)) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	require.Eventually(t, func() bool {
		resp, err := http.Get(s.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, patience, 10*time.Millisecond)
}

func (s *server) get(t testing.TB, path string) map[string]any {
	t.Helper()
	resp, err := http.Get(s.base + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	}
	return body
}

// waitTask waits until the task has the status and number of events.
func (s *server) waitTask(t testing.TB, id, status string, events int) map[string]any {
	t.Helper()
	var state map[string]any
	require.Eventually(t, func() bool {
		state = s.get(t, "/v1/tasks/"+id)
		return state != nil && state["status"] == status && state["events"] == float64(events)
	}, patience, 10*time.Millisecond, "task %s never %s with %d events", id, status, events)
	return state
}

func (s *server) taskLogs(t testing.TB, id string) []any {
	t.Helper()
	return s.get(t, "/v1/tasks/"+id+"/logs?limit=1000")["logs"].([]any)
}

// proxy forwards requests to a server, or answers in its place: each of
// its faults is used up by one request. "503" answers as the server does
// when its bus cannot take data; "lose" forwards the request and drops
// the answer.
type proxy struct {
	base     string
	mu       sync.Mutex
	faults   []string
	arrivals []time.Time
}

func startProxy(t testing.TB, upstream string, faults ...string) *proxy {
	t.Helper()
	p := &proxy{faults: faults}
	ln := listen(t, "")
	p.base = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.arrivals = append(p.arrivals, time.Now())
		var fault string
		if len(p.faults) > 0 {
			fault, p.faults = p.faults[0], p.faults[1:]
		}
		p.mu.Unlock()
		if fault == "503" {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"code":"unavailable","message":"the bus cannot take data now"}}`)
			return
		}
		req, err := http.NewRequest(r.Method, upstream+r.URL.Path, r.Body)
		if err != nil {
			panic(err)
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		if fault == "lose" {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p
}

func (p *proxy) gaps() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(p.arrivals); i++ {
		out = append(out, p.arrivals[i].Sub(p.arrivals[i-1]))
	}
	return out
}
