package httpx

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
)

// Answers and errors alike end with one newline when the server encodes
// with EncodeJSON.
func TestAnswersEndWithANewline(t *testing.T) {
	app := fiber.New(fiber.Config{JSONEncoder: EncodeJSON, ErrorHandler: ErrorHandler})
	app.Get("/ok", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"accepted": 1}) })
	app.Post("/strict", func(c *fiber.Ctx) error {
		var v struct{ A int }
		return DecodeJSON(c, &v)
	})
	f := func(method, path, body, want string) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := app.Test(req)
		require.NoError(t, err)
		got, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, want, string(got))
	}
	f("GET", "/ok", "", "{\"accepted\":1}\n")
	f("GET", "/missing", "", "{\"error\":{\"code\":\"not_found\",\"message\":\"no such route\"}}\n")
	f("POST", "/strict", `{"B":1}`, "{\"error\":{\"code\":\"validation_failed\",\"message\":\"request body: B is not a known field\",\"details\":[{\"field\":\"B\",\"reason\":\"is not a known field\"}]}}\n")
}
