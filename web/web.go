package web

import (
	"embed"
	"io/fs"
	"path"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/httpx"
)

//go:embed static
var embedded embed.FS

var static, _ = fs.Sub(embedded, "static")

// The page loads nothing but its own files and talks to nothing but its
// own origin; its address may carry an API key, which no referrer repeats.
// The files hold no data, and pages of other origins may import the client
// module, which browsers fetch with CORS.
var headers = map[string]string{
	"Content-Security-Policy":            "default-src 'self'; frame-ancestors 'none'",
	"Referrer-Policy":                    "no-referrer",
	"X-Content-Type-Options":             "nosniff",
	fiber.HeaderCacheControl:             "no-cache",
	fiber.HeaderAccessControlAllowOrigin: "*",
}

// pages are the addresses of the UI's pages. Each is the same shell,
// app.html, whose script draws the page its address names, so that every
// page can be linked to and reloaded. None starts with /v1 or /api, where
// the API lives.
var pages = []string{"/tasks", "/tasks/:id", "/dashboards", "/dashboards/:id", "/alerts"}

// Routes mounts the live page at GET /, the UI's pages, its files at
// GET /web/{file} and the vendored chart library at GET /web/vendor/{file}.
func Routes(r fiber.Router) {
	r.Get("/", func(c *fiber.Ctx) error { return serve(c, "index.html") })
	for _, p := range pages {
		r.Get(p, func(c *fiber.Ctx) error { return serve(c, "app.html") })
	}
	r.Get("/web/:file", func(c *fiber.Ctx) error { return serve(c, c.Params("file")) })
	r.Get("/web/vendor/:file", func(c *fiber.Ctx) error { return serve(c, "vendor/"+c.Params("file")) })
}

func serve(c *fiber.Ctx, name string) error {
	body, err := fs.ReadFile(static, name)
	if err != nil {
		return httpx.NewError(fiber.StatusNotFound, httpx.CodeNotFound, "no file "+name+" in the web UI")
	}
	for k, v := range headers {
		c.Set(k, v)
	}
	c.Type(path.Ext(name), "utf-8")
	return c.Send(body)
}
