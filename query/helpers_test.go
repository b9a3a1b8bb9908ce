package query_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/query"
)

// api is the query API on a loopback port, every request as the default
// tenant.
type api struct{ base string }

func startAPI(t testing.TB, deps query.Deps) *api {
	t.Helper()
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler, DisableStartupMessage: true})
	query.New(deps).Routes(app.Group("", auth.Keys{}.Middleware()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go app.Listener(ln)
	t.Cleanup(func() { require.NoError(t, app.Shutdown()) })
	return &api{base: "http://" + ln.Addr().String()}
}

// allDeps serves every endpoint from m.
func allDeps(m *memStore) query.Deps {
	return query.Deps{Store: m, Logs: m, Series: m, Stats: m, Dashboards: m}
}

type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (a *api) do(t testing.TB, method, path, body string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && len(raw) > 0 && raw[0] == '{' {
		require.NoError(t, json.Unmarshal(raw, &r.body), string(raw))
	}
	return r
}

func (a *api) get(t testing.TB, path string) reply {
	t.Helper()
	return a.do(t, http.MethodGet, path, "")
}

// errorDetails returns the details of an error answer.
func errorDetails(t testing.TB, r reply) []map[string]any {
	t.Helper()
	e, ok := r.body["error"].(map[string]any)
	require.True(t, ok, "not an error answer: %s", r.raw)
	var out []map[string]any
	for _, d := range e["details"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out
}
