package web

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/httpx"
)

// TestScripts runs the JavaScript tests in node: the client's task map,
// and the words of a task's control request.
func TestScripts(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but node is not installed")
		}
		t.Skip("node runs the client's tests")
	}
	out, err := exec.Command(node, "--test", "testdata/taskpulse_test.mjs", "testdata/control_test.mjs").CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// TestClientModuleImportsFromAnyOrigin fetches the client module as a
// browser importing it from another page does.
func TestClientModuleImportsFromAnyOrigin(t *testing.T) {
	app := fiber.New()
	Routes(app)
	req := httptest.NewRequest("GET", "/web/taskpulse.js", nil)
	req.Header.Set("Origin", "https://app.example.com")
	resp, err := app.Test(req)
	require.NoError(t, err)
	require.Equal(t, fiber.StatusOK, resp.StatusCode)
	require.Equal(t, "*", resp.Header.Get(fiber.HeaderAccessControlAllowOrigin))
	require.Contains(t, resp.Header.Get(fiber.HeaderContentType), "javascript")
}

// TestPagesServeTheShell fetches every page of the UI and the chart
// library, and a file outside the embedded set.
func TestPagesServeTheShell(t *testing.T) {
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler})
	Routes(app)
	f := func(path string, status int, contentType string) {
		t.Helper()
		resp, err := app.Test(httptest.NewRequest("GET", path, nil))
		require.NoError(t, err)
		require.Equal(t, status, resp.StatusCode, path)
		if status == fiber.StatusOK {
			require.Contains(t, resp.Header.Get(fiber.HeaderContentType), contentType, path)
			require.Equal(t, headers["Content-Security-Policy"], resp.Header.Get("Content-Security-Policy"), path)
		}
	}
	for _, p := range []string{"/tasks", "/tasks/t%2F1", "/dashboards", "/dashboards/d1", "/alerts"} {
		f(p, fiber.StatusOK, "text/html")
	}
	f("/web/vendor/echarts.esm.min.js", fiber.StatusOK, "javascript")
	f("/web/vendor/..%2Fapp.html", fiber.StatusNotFound, "")
	f("/web/vendor", fiber.StatusNotFound, "")
}
