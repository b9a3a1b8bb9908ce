package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/app"
)

// server is an all-in-one TaskPulse running in the test process on a
// loopback port, with its own data directory.
type server struct {
	base string
	dir  string
	stop func()
	// patience bounds how long waits for the pipeline last; 10s when 0.
	patience time.Duration
}

func startServer(t testing.TB, args ...string) *server {
	t.Helper()
	return startServerWith(t, nil, args...)
}

// startServerWith is startServer with options for app.Run.
func startServerWith(t testing.TB, opts []app.Option, args ...string) *server {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var s app.Settings
	s.RegisterFlags(fs)
	require.NoError(t, s.Parse(fs, append([]string{"--data-dir", dir, "--listen", ln.Addr().String(), "--writer-wait", "20ms"}, args...)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, &s, ln, slog.New(slog.DiscardHandler), opts...) }()
	srv := &server{base: "http://" + ln.Addr().String(), dir: dir}
	srv.stop = func() {
		cancel()
		require.NoError(t, <-done)
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			srv.stop()
		}
	})
	require.NoError(t, waitReady(ctx, srv.base))
	return srv
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func (s *server) do(t testing.TB, method, path, key, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := response{status: resp.StatusCode, header: resp.Header}
	if len(raw) > 0 && raw[0] == '{' {
		require.NoError(t, json.Unmarshal(raw, &r.body), string(raw))
	}
	return r
}

func (s *server) post(t testing.TB, key, body string) response {
	t.Helper()
	return s.do(t, http.MethodPost, "/v1/progress", key, "application/json", body)
}

func (s *server) get(t testing.TB, key, path string) response {
	t.Helper()
	return s.do(t, http.MethodGet, path, key, "", "")
}

// waitTask waits until the task's current state has the wanted status and
// number of events, and returns it.
func (s *server) waitTask(t testing.TB, key, id, status string, events int) map[string]any {
	t.Helper()
	var last response
	reached := func() bool {
		return last.status == http.StatusOK && last.body["status"] == status && last.body["events"] == float64(events)
	}
	deadline := time.Now().Add(cmp.Or(s.patience, 10*time.Second))
	for last = s.get(t, key, "/v1/tasks/"+id); !reached() && time.Now().Before(deadline); last = s.get(t, key, "/v1/tasks/"+id) {
		time.Sleep(10 * time.Millisecond)
	}
	require.True(t, reached(), "task %s never reached %s with %d events; last answer %d %v", id, status, events, last.status, last.body)
	return last.body
}

// wsClient is a WebSocket connection to /v1/stream.
type wsClient struct {
	conn *websocket.Conn
}

func (s *server) dial(t testing.TB, key, query string) *wsClient {
	t.Helper()
	header := http.Header{}
	if key != "" {
		header.Set("Authorization", "Bearer "+key)
	}
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.base, "http")+"/v1/stream?"+query, header)
	require.NoError(t, err)
	resp.Body.Close()
	t.Cleanup(func() { conn.Close() })
	return &wsClient{conn: conn}
}

// next reads the next message of one of the given types, skipping others.
func (c *wsClient) next(t testing.TB, types ...string) map[string]any {
	t.Helper()
	require.NoError(t, c.conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	for {
		var msg map[string]any
		require.NoError(t, c.conn.ReadJSON(&msg))
		for _, typ := range types {
			if msg["type"] == typ {
				return msg
			}
		}
	}
}

func progressBody(events ...string) string {
	return "[" + strings.Join(events, ",") + "]"
}

func event(task string, seq int, status string, progress int) string {
	return fmt.Sprintf(`{"task_id":%q,"user_id":"u1","task_type":"create_skill","status":%q,"progress":%d,"seq":%d}`, task, status, progress, seq)
}

func compactJSON(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, json.NewEncoder(&buf).Encode(v))
	return strings.TrimSpace(buf.String())
}

func flagSetForTest() *flag.FlagSet { return flag.NewFlagSet("serve", flag.ContinueOnError) }
