package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/app"
)

// Keys long enough to pass the server's minimum.
const (
	keyA     = "key-a-0123456789abcdef"
	keyB     = "key-b-0123456789abcdef"
	keyAlpha = "key-alpha-0123456789"
	keyBeta  = "key-beta-0123456789"
)

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// rawDo sends a request with exactly the headers given and returns the
// answer's status and body.
func rawDo(t testing.TB, srv *server, method, path string, headers map[string][]string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.base+path, bytes.NewReader(body))
	require.NoError(t, err)
	for k, vs := range headers {
		if k == "Host" {
			req.Host = vs[0]
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(raw)
}

func TestCompressedBodiesAreBoundedAfterDecoding(t *testing.T) {
	const limit = 64 << 10
	srv := startServer(t, "--body-limit", fmt.Sprint(limit))
	js := "application/json"
	f := func(name string, encodings []string, body []byte, wantStatus int, wantCode string) {
		t.Helper()
		status, answer := rawDo(t, srv, http.MethodPost, "/v1/progress", map[string][]string{"Content-Type": {js}, "Content-Encoding": encodings}, body)
		require.Equal(t, wantStatus, status, "%s: %s", name, answer)
		require.Contains(t, answer, wantCode, name)
	}
	good := []byte(event("gz-1", 1, "running", 10))
	f("gzip", []string{"gzip"}, gzipped(t, good), http.StatusAccepted, "accepted")
	zw, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	f("zstd", []string{"zstd"}, zw.EncodeAll([]byte(event("zstd-1", 1, "running", 10)), nil), http.StatusAccepted, "accepted")
	f("identity", []string{"identity"}, []byte(event("id-1", 1, "running", 10)), http.StatusAccepted, "accepted")

	// 10 MiB of one event's worth of spaces compresses to about 10 KiB,
	// under the limit on the wire and far over it decoded.
	bomb := gzipped(t, append(bytes.Repeat([]byte(" "), 10<<20), good...))
	require.Less(t, len(bomb), limit)
	f("a bomb", []string{"gzip"}, bomb, http.StatusRequestEntityTooLarge, "payload_too_large")
	f("nested", []string{"gzip, gzip"}, gzipped(t, gzipped(t, good)), http.StatusUnsupportedMediaType, "unsupported_media_type")
	f("two headers", []string{"gzip", "gzip"}, gzipped(t, gzipped(t, good)), http.StatusUnsupportedMediaType, "unsupported_media_type")
	f("unsupported", []string{"compress"}, good, http.StatusUnsupportedMediaType, "unsupported_media_type")
	f("not gzip", []string{"gzip"}, good, http.StatusBadRequest, "invalid_body")
	f("truncated", []string{"gzip"}, gzipped(t, good)[:20], http.StatusBadRequest, "invalid_body")

	srv.waitTask(t, "", "gz-1", "running", 1)
	srv.waitTask(t, "", "zstd-1", "running", 1)
}

// rawExchange writes req on a fresh connection and returns the first
// line and the rest of what the server answers within a few seconds.
func rawExchange(t testing.TB, srv *server, req string) (status, rest string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = io.WriteString(conn, req)
	require.NoError(t, err)
	r := bufio.NewReader(conn)
	status, err = r.ReadString('\n')
	require.NoError(t, err, "the server answers before the body it was promised arrives")
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	return strings.TrimSpace(status), string(b)
}

func TestTheKeyAndLengthAreCheckedBeforeTheBodyIsRead(t *testing.T) {
	const limit = 64 << 10
	srv := startServer(t, "--body-limit", fmt.Sprint(limit), "--api-keys", keyA+"=acme")
	host := strings.TrimPrefix(srv.base, "http://")
	// Each request promises a body of which only the first 8 KiB come,
	// what the server reads ahead: only an answer that does not wait for
	// the rest arrives.
	head := func(key string, length int) string {
		return "POST /v1/progress HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\n" +
			"Authorization: Bearer " + key + "\r\nContent-Length: " + fmt.Sprint(length) + "\r\n\r\n" + strings.Repeat(" ", 8<<10)
	}
	status, _ := rawExchange(t, srv, head("wrong-key-0123456789", limit/2))
	require.Contains(t, status, " 401 ")
	status, _ = rawExchange(t, srv, head("wrong-key-0123456789", 100*limit))
	require.Contains(t, status, " 401 ")
	status, body := rawExchange(t, srv, head(keyA, 100*limit))
	require.Contains(t, status, " 413 ")
	require.Contains(t, body, "payload_too_large")
}

func TestABodyOverTheLimitIsAnswered413(t *testing.T) {
	const limit = 4 << 10
	srv := startServer(t, "--body-limit", fmt.Sprint(limit))
	for _, size := range []int{limit + 1, 2 * limit, 64 * limit, 1 << 20} {
		for range 5 {
			body := `[` + strings.Repeat(event("big", 1, "running", 1)+",", size/80) + event("big", 1, "running", 1) + `]`
			r := srv.do(t, http.MethodPost, "/v1/progress", "", "application/json", body)
			require.Equal(t, http.StatusRequestEntityTooLarge, r.status, "%d bytes", len(body))
		}
	}
	// Chunked, so the length is known only once read.
	req, err := http.NewRequest(http.MethodPost, srv.base+"/v1/progress", io.MultiReader(strings.NewReader("["), strings.NewReader(strings.Repeat(event("big", 1, "running", 1)+",", 200)+"{}]")))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
}

func TestAMalformedRequestIsNotEchoed(t *testing.T) {
	srv := startServer(t)
	host := strings.TrimPrefix(srv.base, "http://")
	for _, req := range []string{
		"GET /v1/tasks HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer s3cret-token-value\r\nCookie: sid=cookie-s3cret\r\nBroken header line\r\n\r\n",
		"GET /v1/tasks HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer s3cret-token-value\r\nCookie: sid=cookie-s3cret\r\nContent-Length: x1\r\n\r\n",
		"G\x00T /v1/tasks?s3cret HTTP/1.1\r\nHost: " + host + "\r\nCookie: sid=cookie-s3cret\r\n\r\n",
		"POST /v1/progress HTTP/1.1\r\nHost: " + host + "\r\nCookie: sid=cookie-s3cret\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\ns3cret\r\n0\r\n\r\n",
	} {
		status, body := rawExchange(t, srv, req)
		require.Contains(t, status, " 4", "%q", req)
		require.NotContains(t, body, "s3cret", "%q answered %s", req, body)
		require.NotContains(t, body, "Broken", "%q answered %s", req, body)
	}
}

func TestOriginAndHostAreChecked(t *testing.T) {
	srv := startServer(t, "--allowed-origins", "https://app.example.com")
	js := "application/json"
	silence := []byte(`{"matchers":[{"name":"rule","op":"=","value":"x"}],"ends_at":` + fmt.Sprint(time.Now().Add(time.Hour).UnixMilli()) + `}`)
	f := func(name, method, path string, headers map[string][]string, body []byte, wantStatus int) {
		t.Helper()
		status, answer := rawDo(t, srv, method, path, headers, body)
		require.Equal(t, wantStatus, status, "%s: %s", name, answer)
	}
	h := func(kv ...string) map[string][]string {
		m := map[string][]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = []string{kv[i+1]}
		}
		return m
	}
	f("no Origin", "POST", "/v1/silences", h("Content-Type", js), silence, http.StatusCreated)
	f("own origin", "POST", "/v1/silences", h("Content-Type", js, "Origin", srv.base), silence, http.StatusCreated)
	f("a loopback origin", "POST", "/v1/silences", h("Content-Type", js, "Origin", "http://localhost:3000"), silence, http.StatusCreated)
	f("an allowed origin", "POST", "/v1/silences", h("Content-Type", js, "Origin", "https://app.example.com"), silence, http.StatusCreated)
	f("another site", "POST", "/v1/silences", h("Content-Type", js, "Origin", "https://evil.example"), silence, http.StatusForbidden)
	f("a sandboxed frame", "POST", "/v1/silences", h("Content-Type", js, "Origin", "null"), silence, http.StatusForbidden)
	f("another site's form", "POST", "/v1/metrics", h("Content-Type", "text/plain", "Origin", "https://evil.example"), []byte("x 1\n"), http.StatusForbidden)
	f("a form without Origin", "POST", "/v1/silences", h("Content-Type", "text/plain"), silence, http.StatusUnsupportedMediaType)
	f("reads from another site", "GET", "/v1/tasks", h("Origin", "https://evil.example"), nil, http.StatusOK)

	// DNS rebinding: a page whose own name now resolves to 127.0.0.1.
	f("a rebound name", "GET", "/v1/tasks", h("Host", "evil.example:8080"), nil, http.StatusForbidden)
	f("the page too", "GET", "/", h("Host", "evil.example"), nil, http.StatusForbidden)
	f("localhost", "GET", "/v1/tasks", h("Host", "localhost"), nil, http.StatusOK)
	f("IPv6 loopback", "GET", "/v1/tasks", h("Host", "[::1]:8080"), nil, http.StatusOK)

	ws := "ws" + strings.TrimPrefix(srv.base, "http") + "/v1/stream?all=true"
	_, resp, err := websocket.DefaultDialer.Dial(ws, http.Header{"Origin": {"https://evil.example"}})
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	conn, _, err := websocket.DefaultDialer.Dial(ws, http.Header{"Origin": {srv.base}})
	require.NoError(t, err)
	conn.Close()
}

func TestHostsAreNotCheckedWithKeys(t *testing.T) {
	srv := startServer(t, "--api-keys", keyA+"=acme")
	status, _ := rawDo(t, srv, "GET", "/v1/tasks", map[string][]string{"Host": {"taskpulse.example.com"}, "Authorization": {"Bearer " + keyA}}, nil)
	require.Equal(t, http.StatusOK, status)
}

func TestShortKeysAreRefusedAtStart(t *testing.T) {
	fs := flagSetForTest()
	var s app.Settings
	s.RegisterFlags(fs)
	err := s.Parse(fs, []string{"--api-keys", "dev-key=default"})
	require.ErrorContains(t, err, "at least 16 characters")
	require.NotContains(t, err.Error(), "dev-key=", "the key is not printed whole")
}

func TestRefusedRequestsAreCountedUnderTheirRoute(t *testing.T) {
	srv := startServer(t, "--api-keys", keyA+"=acme")
	r := srv.get(t, "wrong-key-0123456789", "/v1/tasks/some-task/events")
	require.Equal(t, http.StatusUnauthorized, r.status)
	status, metrics := rawDo(t, srv, "GET", "/metrics", nil, nil)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, metrics, `taskpulse_http_requests_total{code="401",method="GET",route="/v1/tasks/:id/events"} 1`)
	require.NotContains(t, metrics, `code="401",method="GET",route="/"}`)
}
