package telemetry

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

// routeTable finds the route pattern a path falls under, for requests
// that a middleware answered before Fiber reached their route.
type routeTable struct {
	byMethod map[string][][]string
	patterns map[string][]string
}

func newRouteTable(app *fiber.App) *routeTable {
	t := &routeTable{byMethod: map[string][][]string{}, patterns: map[string][]string{}}
	for _, r := range app.GetRoutes(true) {
		if r.Method == fiber.MethodHead {
			continue
		}
		t.byMethod[r.Method] = append(t.byMethod[r.Method], strings.Split(r.Path, "/"))
		t.patterns[r.Method] = append(t.patterns[r.Method], r.Path)
	}
	return t
}

// match returns the first pattern of method that path fits, segment by
// segment (":name" fits any one segment), or "unmatched".
func (t *routeTable) match(method, path string) string {
	segs := strings.Split(path, "/")
	if method == fiber.MethodHead {
		method = fiber.MethodGet
	}
	for i, pattern := range t.byMethod[method] {
		if fits(pattern, segs) {
			return t.patterns[method][i]
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
