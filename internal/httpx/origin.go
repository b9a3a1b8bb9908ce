package httpx

import (
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// CodeForbidden answers a request refused for where it comes from: an
// Origin or Host the server does not serve.
const CodeForbidden = "forbidden"

// Origins guards against other sites' pages acting through a user's
// browser.
type Origins struct {
	// Allowed lists origins ("https://app.example.com") whose pages may
	// open WebSockets and send requests that change state, beside the
	// server's own origin and loopback ones; "*" allows every origin.
	Allowed []string
	// LoopbackHost admits only requests whose Host is a loopback name.
	// Without API keys every request is trusted, and a page that has its
	// own name resolve to 127.0.0.1 (DNS rebinding) would otherwise be
	// same-origin with the server.
	LoopbackHost bool
}

// Middleware refuses, with 403, a request whose Host or Origin the
// policy does not admit. A request without Origin (curl, a server, a
// worker) is not a browser acting for another site, and passes.
func (o Origins) Middleware() fiber.Handler {
	anyOrigin := slices.Contains(o.Allowed, "*")
	return func(c *fiber.Ctx) error {
		host := c.Get(fiber.HeaderHost)
		if o.LoopbackHost && !loopbackHost(host) {
			return forbidden("Host", "must be a loopback name such as localhost or 127.0.0.1: without API keys the server answers only loopback names")
		}
		if anyOrigin || !checksOrigin(c) {
			return c.Next()
		}
		origin := c.Get(fiber.HeaderOrigin)
		if origin == "" || o.admits(origin, host) {
			return c.Next()
		}
		return forbidden("Origin", "is not an origin this server accepts requests from; its own origin, loopback origins and those of --allowed-origins are")
	}
}

// checksOrigin reports whether c is a request a page of another site
// must not make: one that changes state, or a WebSocket upgrade, which
// browsers make across sites without asking.
func checksOrigin(c *fiber.Ctx) bool {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return strings.EqualFold(c.Get(fiber.HeaderUpgrade), "websocket")
	}
	return true
}

func (o Origins) admits(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Path != "" {
		return false // "null" (sandboxed frames, files) among them
	}
	if strings.EqualFold(u.Host, host) || loopbackHost(u.Host) {
		return true
	}
	return slices.ContainsFunc(o.Allowed, func(a string) bool { return strings.EqualFold(a, origin) })
}

// loopbackHost reports whether a Host value (a name or address, with or
// without a port) names this machine's loopback.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func forbidden(header, reason string) error {
	return &Error{
		Status:  fiber.StatusForbidden,
		Code:    CodeForbidden,
		Message: "the " + header + " header " + reason,
		Details: []FieldProblem{{Field: header, Reason: reason}},
	}
}

// ValidOrigin checks an entry of an allow list of origins.
func ValidOrigin(origin string) error {
	if origin == "*" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Path != "" || u.RawQuery != "" {
		return errors.New("origin " + origin + " must be scheme://host[:port], such as https://app.example.com, or *")
	}
	return nil
}
