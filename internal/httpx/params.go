package httpx

import (
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
)

// Param returns a path parameter percent-decoded and copied out of the
// request buffer. Fiber matches routes on the raw path, so an id holding
// '/', a space or any non-ASCII character arrives escaped.
func Param(c *fiber.Ctx, name string) (string, error) {
	v, err := url.PathUnescape(c.Params(name))
	if err != nil || !utf8.ValidString(v) {
		return "", BadParameter(name, "must be a percent-encoded UTF-8 path segment")
	}
	return strings.Clone(v), nil
}

// ValidQuery refuses a request whose query has a parameter without a
// name, or a name or value that is not UTF-8: no store or JSON body can
// hold one, and a name-less parameter would hide from the checks that
// refuse unknown parameters.
func ValidQuery(c *fiber.Ctx) error {
	var bad error
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		switch {
		case bad != nil:
		case len(k) == 0:
			e := BadParameter("", "must be named")
			e.Message = "a query parameter has no name"
			bad = e
		case !utf8.Valid(k):
			bad = BadParameter(strings.ToValidUTF8(string(k), "\uFFFD"), "must be UTF-8")
		case !utf8.Valid(v):
			bad = BadParameter(string(k), "must be UTF-8")
		}
	})
	if bad != nil {
		return bad
	}
	return c.Next()
}

// OnlyQuery refuses a query parameter not among known (api_key, which
// authenticates browsers, is always allowed).
func OnlyQuery(c *fiber.Ctx, known ...string) error {
	var bad error
	c.Context().QueryArgs().VisitAll(func(k, _ []byte) {
		name := string(k)
		if bad == nil && name != "api_key" && !slices.Contains(known, name) {
			if len(known) == 0 {
				bad = BadParameter(name, "is not a known parameter (this endpoint takes none)")
			} else {
				bad = BadParameter(name, "is not a known parameter (known: "+strings.Join(known, ", ")+")")
			}
		}
	})
	return bad
}
