package telemetry

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

// routeTable finds the route pattern a path falls under, for requests
// that a middleware answered before Fiber reached their route.
type routeTable map[string][]route // by method

type route struct {
	pattern string
	segs    []string
}

func newRouteTable(app *fiber.App) routeTable {
	t := routeTable{}
	for _, r := range app.GetRoutes(true) {
		if r.Method != fiber.MethodHead {
			t[r.Method] = append(t[r.Method], route{r.Path, strings.Split(r.Path, "/")})
		}
	}
	return t
}

// match returns the first pattern of method that path fits, segment by
// segment (":name" fits any one segment), or "unmatched".
func (t routeTable) match(method, path string) string {
	segs := strings.Split(path, "/")
	if method == fiber.MethodHead {
		method = fiber.MethodGet
	}
	for _, r := range t[method] {
		if fits(r.segs, segs) {
			return r.pattern
		}
	}
	return "unmatched"
}

func fits(pattern, segs []string) bool {
	if len(pattern) != len(segs) {
		return false
	}
	for i, p := range pattern {
		if p != segs[i] && !(strings.HasPrefix(p, ":") && segs[i] != "") {
			return false
		}
	}
	return true
}
