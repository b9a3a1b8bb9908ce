package web

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/proxy"

	"github.com/taskpulse/taskpulse/internal/httpx"
)

// Upstreams are the base addresses (http://query:8080) of the services
// whose API the UI calls, for a process that serves the UI without
// running them. An empty one is not forwarded to.
type Upstreams struct {
	Query, Alerting, Tasks string
}

// upstreamTimeout bounds a forwarded call: the longest the UI waits for
// is a chart over a week of samples.
const upstreamTimeout = 30 * time.Second

// forwarded are the API routes the UI's pages call, by the service that
// serves them. Reads of tasks go to the query API, their changes to the
// task API.
var forwarded = []struct {
	methods []string
	paths   []string
	to      func(Upstreams) string
}{
	{
		[]string{fiber.MethodGet},
		[]string{"/v1/tasks", "/v1/tasks/*", "/v1/logs", "/v1/metrics/series", "/v1/stats/*", "/v1/charts/*", "/v1/export"},
		func(u Upstreams) string { return u.Query },
	},
	{
		[]string{fiber.MethodGet, fiber.MethodPost, fiber.MethodPut, fiber.MethodDelete},
		[]string{"/v1/dashboards", "/v1/dashboards/*"},
		func(u Upstreams) string { return u.Query },
	},
	{
		[]string{fiber.MethodPost},
		[]string{"/v1/tasks/*"},
		func(u Upstreams) string { return u.Tasks },
	},
	{
		[]string{fiber.MethodGet, fiber.MethodPost, fiber.MethodPut, fiber.MethodDelete},
		[]string{"/v1/alerts", "/v1/alert-rules", "/v1/alert-rules/*", "/v1/silences", "/v1/silences/*", "/v1/notifications", "/v1/notifications/*"},
		func(u Upstreams) string { return u.Alerting },
	},
}

// ProxyRoutes forwards the API routes the UI calls to the services named
// in up, so that the UI served by a stream process works when query,
// alerting and the task API run in processes of their own. r must
// already check the key and read the body, as every API route does, and
// the server must check the Origin of every request: then a forwarded
// request is one this process would have taken itself. It goes with its
// key, and without its Origin, whose check is done, since the upstream
// would hold the page's origin against its own address.
//
// Routes this process serves itself must be mounted on r before, as the
// first route that matches answers.
func ProxyRoutes(r fiber.Router, up Upstreams) {
	for _, f := range forwarded {
		base := strings.TrimSuffix(f.to(up), "/")
		if base == "" {
			continue
		}
		forward := func(c *fiber.Ctx) error {
			c.Request().Header.Del(fiber.HeaderOrigin)
			if err := proxy.DoTimeout(c, base+c.OriginalURL(), upstreamTimeout); err != nil {
				return httpx.NewError(fiber.StatusBadGateway, httpx.CodeUnavailable, "the service behind this route cannot be reached now")
			}
			return nil
		}
		for _, p := range f.paths {
			for _, m := range f.methods {
				r.Add(m, p, forward)
			}
		}
	}
}
