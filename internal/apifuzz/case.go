package apifuzz

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// Target is the server under test and what exists on it, so that cases
// can name things that exist.
type Target struct {
	// BaseURL is the server's address, such as http://127.0.0.1:8080.
	BaseURL string
	// Key is an accepted API key, sent with every case but the auth
	// ones; OtherKey is an accepted key of another tenant.
	Key, OtherKey string
	// BodyLimit is the server's request body limit in bytes.
	BodyLimit int
	// IDs holds, by path template, ids that exist for its path parameter.
	IDs map[string][]string
	// Values holds, by query parameter name, values that match seeded data.
	Values map[string][]string
	// Metrics names seeded metrics, a gauge first and a counter second.
	Metrics []string
	// Channels names the configured alert channels a rule may use.
	Channels []string
}

type pair struct{ name, value string }

// Case is one request of an operation.
type Case struct {
	op   *Operation
	what string
	path string
	// query is written in order; rawQuery, when set, is sent as it is.
	query    []pair
	rawQuery string
	header   http.Header
	body     []byte
	// upgrade asks for a WebSocket.
	upgrade bool
	// key is the target's key, kept out of the case's description.
	key string
}

// QueryCase is a request of op at path (op's template filled in) with a
// fuzzed query string and the target's key. Bytes an HTTP request line
// cannot carry are percent-encoded; the query's structure is kept.
func QueryCase(op *Operation, path, query string, t Target) *Case {
	return &Case{op: op, what: "fuzzed query", path: path, rawQuery: escapeRawQuery(query),
		header: http.Header{"Authorization": {"Bearer " + t.Key}}, key: t.Key}
}

// QuerySeeds are the query strings of up to n cases that differ from a
// plain request with the target's key in their query string only: seeds
// for fuzzing the query of the same path.
func QuerySeeds(cases []*Case, n int) []string {
	var out []string
	for _, c := range cases {
		if len(out) == n {
			break
		}
		if c.body != nil || c.upgrade || c.header.Get("Authorization") != "Bearer "+c.key || strings.HasPrefix(c.what, "path ") {
			continue
		}
		out = append(out, c.queryString())
	}
	return out
}

func (c *Case) queryString() string {
	if c.rawQuery != "" {
		return c.rawQuery
	}
	parts := make([]string, len(c.query))
	for i, p := range c.query {
		parts[i] = url.QueryEscape(p.name) + "=" + url.QueryEscape(p.value)
	}
	return strings.Join(parts, "&")
}

func (c *Case) target() string {
	if q := c.queryString(); q != "" {
		return c.path + "?" + q
	}
	return c.path
}

// queryNames are the parameter names the server sees, read as the server
// (fasthttp) reads a query string.
func (c *Case) queryNames() map[string]bool {
	var args fasthttp.Args
	args.Parse(c.queryString())
	names := map[string]bool{}
	// A name that is not UTF-8 can only come back in a JSON error with its
	// bad bytes replaced.
	args.VisitAll(func(k, _ []byte) { names[strings.ToValidUTF8(string(k), "\uFFFD")] = true })
	return names
}

// unknownParam is a query parameter the request has that the operation
// does not document, if any.
func (c *Case) unknownParam() (string, bool) {
	for name := range c.queryNames() {
		if name != "api_key" && c.op.param(name) == nil {
			return name, true
		}
	}
	return "", false
}

// String describes the request, clipped and with the key hidden, for
// failure messages.
func (c *Case) String() string {
	var b strings.Builder
	target := c.target()
	if len(target) > 300 {
		target = fmt.Sprintf("%s…(%d bytes in all)", target[:300], len(target))
	}
	fmt.Fprintf(&b, "%s %s", c.op.Method, target)
	if c.upgrade {
		b.WriteString(" (WebSocket upgrade)")
	}
	for _, k := range slices.Sorted(maps.Keys(c.header)) {
		v := c.header.Get(k)
		if (k == "Authorization" || k == "X-Api-Key") && c.key != "" {
			v = strings.ReplaceAll(v, c.key, "<key>")
		}
		fmt.Fprintf(&b, "\n    %s: %s", k, v)
	}
	if c.body != nil {
		fmt.Fprintf(&b, "\n    body (%d bytes): %s", len(c.body), clip(string(c.body), 400))
	}
	fmt.Fprintf(&b, "\n    [case: %s]", c.what)
	return b.String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:n]) + fmt.Sprintf("…(+%d bytes)", len(s)-n)
}

// escapeRawQuery percent-encodes the bytes an HTTP request line cannot
// carry, keeping the query's structure (&, =, %) as the fuzzer made it.
func escapeRawQuery(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		ch := q[i]
		if ch <= ' ' || ch >= 0x7f || ch == '#' {
			fmt.Fprintf(&b, "%%%02X", ch)
			continue
		}
		b.WriteByte(ch)
	}
	return b.String()
}
