package httpx

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strconv"
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
		if bad == nil {
			bad = knownParam(string(k), known)
		}
	})
	return bad
}

// Limits of Query.Limit: the page size when none is asked for, and the
// largest page.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// QueryRules are what a service checks in its query parameters beyond
// what every Query checks.
type QueryRules struct {
	// MaxValue bounds every value, in bytes; 0 leaves them unbounded.
	MaxValue int
	// MaxItems bounds the items List returns; 0 leaves them unbounded.
	MaxItems int
	// Check, when set, says why v cannot be a value of the parameter
	// name, or "": a per-name rule (ids as ingest takes them, say) that
	// Str and List apply to every value and item they return.
	Check func(name, v string) string
}

// Query reads a request's query parameters. Made by NewQuery or
// QueryFrom, it has refused any name not known and any value that is
// empty, over the bound or not UTF-8, so its readers meet only those
// they are asked about.
type Query struct {
	args  map[string][]string
	rules QueryRules
}

// QueryArgs copies a request's query parameters out of Fiber's buffers.
func QueryArgs(c *fiber.Ctx) map[string][]string {
	args := map[string][]string{}
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		args[string(k)] = append(args[string(k)], string(v))
	})
	return args
}

// NewQuery reads c's query parameters, refusing a name not among known.
func NewQuery(c *fiber.Ctx, rules QueryRules, known ...string) (*Query, error) {
	return QueryFrom(QueryArgs(c), rules, known...)
}

// QueryFrom checks parameters that did not come with a request, such as
// the query of a saved dashboard panel, exactly as a request's are. An
// empty value is refused rather than read as absent: a client that sends
// ?user_id= has a bug to hear about, not a listing of every user's tasks.
// api_key, which authenticates browsers, is always allowed and left to
// the auth middleware.
func QueryFrom(args map[string][]string, rules QueryRules, known ...string) (*Query, error) {
	// By name, so that the answer does not depend on map order; unknown
	// names first, as a misspelt name explains the rest.
	names := slices.Sorted(maps.Keys(args))
	for _, k := range names {
		if err := knownParam(k, known); err != nil {
			return nil, err
		}
	}
	for _, k := range names {
		if k == "api_key" {
			continue
		}
		for _, v := range args[k] {
			switch {
			// An empty cursor is the first page, as an empty next_cursor
			// is the end: paging loops start and stop on "".
			case v == "" && k != "cursor":
				return nil, BadParameter(k, "must not be empty (leave it out instead)")
			case rules.MaxValue > 0 && len(v) > rules.MaxValue:
				return nil, BadParameter(k, "must be at most "+strconv.Itoa(rules.MaxValue)+" bytes")
			case !utf8.ValidString(v):
				return nil, BadParameter(k, "must be UTF-8")
			}
		}
	}
	return &Query{args: args, rules: rules}, nil
}

// knownParam refuses name unless it is among known or is api_key.
func knownParam(name string, known []string) error {
	switch {
	case name == "api_key" || slices.Contains(known, name):
		return nil
	case len(known) == 0:
		return BadParameter(name, "is not a known parameter (this endpoint takes none)")
	}
	return BadParameter(name, "is not a known parameter (known: "+strings.Join(known, ", ")+")")
}

// Values returns every value of name as sent, for readers that split
// them their own way.
func (q *Query) Values(name string) []string { return q.args[name] }

func (q *Query) check(name, v string) error {
	if q.rules.Check != nil {
		if reason := q.rules.Check(name, v); reason != "" {
			return BadParameter(name, reason)
		}
	}
	return nil
}

// Str returns a single-valued parameter, "" when absent.
func (q *Query) Str(name string) (string, error) {
	switch vs := q.args[name]; len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], q.check(name, vs[0])
	}
	return "", BadParameter(name, "must be given once")
}

// List returns a parameter given repeatedly or comma-separated.
func (q *Query) List(name string) ([]string, error) {
	var out []string
	for _, v := range q.args[name] {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				return nil, BadParameter(name, "must not have empty items")
			}
			if err := q.check(name, part); err != nil {
				return nil, err
			}
			if out = append(out, part); q.rules.MaxItems > 0 && len(out) > q.rules.MaxItems {
				return nil, BadParameter(name, "must have at most "+strconv.Itoa(q.rules.MaxItems)+" items")
			}
		}
	}
	return out, nil
}

// Bool reads true or false (as strconv.ParseBool does), false when absent.
func (q *Query) Bool(name string) (bool, error) {
	s, err := q.Str(name)
	if err != nil || s == "" {
		return false, err
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, BadParameter(name, "must be true or false")
	}
	return b, nil
}

// Limit reads the page size, limit: DefaultLimit when absent, at most
// MaxLimit.
func (q *Query) Limit() (int, error) {
	s, err := q.Str("limit")
	if err != nil || s == "" {
		return DefaultLimit, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, BadParameter("limit", "must be an integer from 1 to "+strconv.Itoa(MaxLimit))
	}
	return n, nil
}

// Time reads a time parameter as TimeParam does, returning unix ms, 0
// when absent.
func (q *Query) Time(name string) (int64, error) {
	s, err := q.Str(name)
	if err != nil {
		return 0, err
	}
	return TimeParam(name, s)
}

// Cursor decodes the opaque cursor parameter, made by EncodeCursor, into
// v. It reports whether there was one.
func (q *Query) Cursor(v any) (bool, error) {
	s, err := q.Str("cursor")
	if err != nil || s == "" {
		return false, err
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return false, BadParameter("cursor", "is not a cursor this API returned")
	}
	return true, nil
}

// EncodeCursor makes the cursor of a next page from where the page ended.
func EncodeCursor(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("BUG: cursor does not encode: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
