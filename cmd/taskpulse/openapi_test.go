package main

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/app"
)

// TestOpenAPIDocumentsEveryRoute fails, naming them, when routes the
// server mounts are missing from /openapi.json, which an API fuzzer and
// client generators rely on.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	apps := make(chan *fiber.App, 1)
	srv := startServerWith(t, []app.Option{app.WithApp(func(a *fiber.App) { apps <- a })})
	served := <-apps

	resp, err := http.Get(srv.base + "/openapi.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "application/json")
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3.0."), doc.OpenAPI)

	param := regexp.MustCompile(`:(\w+)`)
	var missing []string
	for _, r := range served.GetRoutes(true) {
		if r.Method == fiber.MethodHead { // Fiber adds HEAD to every GET
			continue
		}
		path := param.ReplaceAllString(r.Path, "{$1}")
		op, ok := doc.Paths[path][strings.ToLower(r.Method)]
		if !ok {
			missing = append(missing, r.Method+" "+path)
			continue
		}
		require.NotEmpty(t, op["responses"], "%s %s documents no responses", r.Method, path)
	}
	slices.Sort(missing)
	require.Empty(t, slices.Compact(missing), "routes the server mounts but /openapi.json does not document")
}
