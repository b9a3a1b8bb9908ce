package query

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/httpx"
)

const (
	defaultLimit = 100
	maxLimit     = 1000
)

// params reads a request's query parameters, refusing any it does not know.
type params struct {
	args map[string][]string
}

func newParams(c *fiber.Ctx, known ...string) (*params, error) {
	return paramsFrom(queryArgs(c), known...)
}

// queryArgs copies a request's query parameters out of Fiber's buffers.
func queryArgs(c *fiber.Ctx) map[string][]string {
	args := map[string][]string{}
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		args[string(k)] = append(args[string(k)], string(v))
	})
	return args
}

// paramsFrom checks parameters that did not come with a request, such as
// the query of a saved dashboard panel, exactly as a request's are.
func paramsFrom(args map[string][]string, known ...string) (*params, error) {
	var unknown []string
	for k := range args {
		if !slices.Contains(known, k) && k != "api_key" {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		// The first by name, so that the answer does not depend on map order.
		unknown := slices.Min(unknown)
		return nil, httpx.BadParameter(unknown, "is not a known parameter (known: "+strings.Join(known, ", ")+")")
	}
	return &params{args: args}, nil
}

// str returns a single-valued parameter.
func (p *params) str(name string) (string, error) {
	vs := p.args[name]
	if len(vs) > 1 {
		return "", httpx.BadParameter(name, "must be given once")
	}
	if len(vs) == 0 {
		return "", nil
	}
	return vs[0], nil
}

// list returns a parameter given repeatedly or comma-separated.
func (p *params) list(name string) []string {
	var out []string
	for _, v := range p.args[name] {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

func (p *params) limit() (int, error) {
	s, err := p.str("limit")
	if err != nil || s == "" {
		return defaultLimit, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, httpx.BadParameter("limit", "must be an integer from 1 to "+strconv.Itoa(maxLimit))
	}
	return n, nil
}

// time reads a time parameter as httpx.TimeParam does, returning unix ms.
func (p *params) time(name string) (int64, error) {
	s, err := p.str(name)
	if err != nil {
		return 0, err
	}
	return httpx.TimeParam(name, s)
}

// cursor decodes an opaque cursor into v.
func (p *params) cursor(v any) (bool, error) {
	s, err := p.str("cursor")
	if err != nil || s == "" {
		return false, err
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return false, httpx.BadParameter("cursor", "is not a cursor this API returned")
	}
	return true, nil
}

func encodeCursor(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("BUG: cursor does not encode: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
