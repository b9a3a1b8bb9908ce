package auth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/httpx"
)

func TestParseKeys(t *testing.T) {
	f := func(in string, want Keys, wantErr string) {
		t.Helper()
		got, err := ParseKeys(in)
		if wantErr != "" {
			require.ErrorContains(t, err, wantErr, in)
			require.NotContains(t, err.Error(), "secret-key", "errors must not print whole keys")
			return
		}
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	f("", Keys{}, "")
	f("key-a-0123456789ab=acme, key-b-0123456789ab=globex", Keys{"key-a-0123456789ab": "acme", "key-b-0123456789ab": "globex"}, "")
	f("# comment\n\nkey-a-0123456789ab=acme\n", Keys{"key-a-0123456789ab": "acme"}, "")
	f("secret-key", nil, "want key=tenant")
	f("secret-key=", nil, "want key=tenant")
	f("secret-key-0123456789=a,secret-key-0123456789=b", nil, "listed twice")
	f("secret-key-0123=a", nil, "at least 16 characters")
}

func TestLoadKeysMergesListAndFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(path, []byte("key-from-the-file=from-file\n"), 0o600))
	keys, err := LoadKeys("key-from-the-list=from-list", path)
	require.NoError(t, err)
	require.Equal(t, Keys{"key-from-the-list": "from-list", "key-from-the-file": "from-file"}, keys)
	_, err = LoadKeys("", filepath.Join(t.TempDir(), "missing"))
	require.ErrorContains(t, err, "read api keys file")
}

func TestMiddleware(t *testing.T) {
	f := func(keys Keys, setup func(r *httpRequest), wantStatus int, wantTenant string) {
		t.Helper()
		app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler})
		app.Get("/", keys.Middleware(), func(c *fiber.Ctx) error { return c.SendString(Tenant(c)) })
		r := &httpRequest{req: httptest.NewRequest("GET", "/", nil)}
		setup(r)
		resp, err := app.Test(r.req)
		require.NoError(t, err)
		require.Equal(t, wantStatus, resp.StatusCode)
		if wantTenant != "" {
			body, _ := io.ReadAll(resp.Body)
			require.Equal(t, wantTenant, string(body))
		}
	}
	keys := Keys{"k1": "acme"}
	none := func(*httpRequest) {}
	f(Keys{}, none, 200, DefaultTenant)
	f(keys, none, 401, "")
	f(keys, func(r *httpRequest) { r.req.Header.Set("Authorization", "Bearer k1") }, 200, "acme")
	f(keys, func(r *httpRequest) { r.req.Header.Set("Authorization", "Bearer k2") }, 401, "")
	f(keys, func(r *httpRequest) { r.req.Header.Set("X-API-Key", "k1") }, 200, "acme")
	f(keys, func(r *httpRequest) { r.req = httptest.NewRequest("GET", "/?api_key=k1", nil) }, 200, "acme")
}

type httpRequest struct{ req *http.Request }
