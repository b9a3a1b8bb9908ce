package web

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/httpx"
)

// echo is an upstream on a loopback port that answers what it was sent.
func echo(t *testing.T, name string) string {
	t.Helper()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(func(c *fiber.Ctx) error {
		return c.JSON(map[string]string{
			"service": name, "method": c.Method(), "url": c.OriginalURL(), "body": string(c.Body()),
			"authorization": c.Get(fiber.HeaderAuthorization), "origin": c.Get(fiber.HeaderOrigin),
		})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { require.NoError(t, app.Shutdown()) })
	return "http://" + ln.Addr().String()
}

// TestProxyRoutesReachTheServices sends the UI's calls to a process that
// serves the UI only, and finds each at the service that answers it, with
// its key and body, without the Origin checked on the way; a write from a
// page of another site is refused before it leaves, and a service that is
// down is a 502.
func TestProxyRoutesReachTheServices(t *testing.T) {
	down, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	downAddr := "http://" + down.Addr().String()
	require.NoError(t, down.Close())

	f := func(up Upstreams, method, path, origin, body string, status int, want map[string]string) {
		t.Helper()
		app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler})
		app.Use(httpx.Origins{}.Middleware())
		ProxyRoutes(app.Group("", httpx.ReadBody(1<<20)), up)
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Host = "ui.example.com"
		req.Header.Set("Authorization", "Bearer key-0123456789abcdef")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := app.Test(req, -1)
		require.NoError(t, err)
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, status, resp.StatusCode, "%s %s: %s", method, path, raw)
		if want == nil {
			return
		}
		var got map[string]string
		require.NoError(t, json.Unmarshal(raw, &got), string(raw))
		require.Equal(t, want, got, "%s %s", method, path)
	}
	up := Upstreams{Query: echo(t, "query"), Alerting: echo(t, "alerting") + "/", Tasks: echo(t, "tasks")}
	sent := func(service, method, url, body string) map[string]string {
		return map[string]string{"service": service, "method": method, "url": url, "body": body, "authorization": "Bearer key-0123456789abcdef", "origin": ""}
	}
	const page = "http://ui.example.com"

	f(up, "GET", "/v1/tasks?limit=100&cursor=abc", "", "", http.StatusOK, sent("query", "GET", "/v1/tasks?limit=100&cursor=abc", ""))
	f(up, "GET", "/v1/tasks/t%2F1/logs?limit=1000", page, "", http.StatusOK, sent("query", "GET", "/v1/tasks/t%2F1/logs?limit=1000", ""))
	f(up, "GET", "/v1/charts/line?source=metric&name=x", "", "", http.StatusOK, sent("query", "GET", "/v1/charts/line?source=metric&name=x", ""))
	f(up, "PUT", "/v1/dashboards/d1", page, `{"title":"t"}`, http.StatusOK, sent("query", "PUT", "/v1/dashboards/d1", `{"title":"t"}`))
	f(up, "POST", "/v1/tasks/t1/cancel", page, "", http.StatusOK, sent("tasks", "POST", "/v1/tasks/t1/cancel", ""))
	f(up, "POST", "/v1/silences", page, `{"duration":"1h"}`, http.StatusOK, sent("alerting", "POST", "/v1/silences", `{"duration":"1h"}`))
	f(up, "GET", "/v1/notifications?limit=1", "", "", http.StatusOK, sent("alerting", "GET", "/v1/notifications?limit=1", ""))

	// The Origin is checked here before anything leaves.
	f(up, "POST", "/v1/silences", "https://evil.example", `{}`, http.StatusForbidden, nil)
	// Routes the UI does not call, and services not named, are not forwarded.
	f(up, "POST", "/v1/progress", "", `{}`, http.StatusNotFound, nil)
	f(Upstreams{Query: up.Query}, "GET", "/v1/alerts", "", "", http.StatusNotFound, nil)
	f(Upstreams{Query: downAddr}, "GET", "/v1/tasks", "", "", http.StatusBadGateway, nil)
}
