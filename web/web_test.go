package web

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
)

// TestTaskMap runs the JavaScript tests of the client's task map in node.
func TestTaskMap(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but node is not installed")
		}
		t.Skip("node runs the client's tests")
	}
	out, err := exec.Command(node, "--test", "testdata/taskpulse_test.mjs").CombinedOutput()
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
