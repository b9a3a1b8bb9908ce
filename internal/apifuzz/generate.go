package apifuzz

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxCases bounds the requests made for one operation.
const maxCases = 120

// Generator makes the cases of one operation from the document.
type Generator struct {
	// Now is the time generated timestamps are relative to.
	Now time.Time

	target Target
	op     *Operation
	rnd    *rand.Rand
	out    []*Case
	seen   map[string]bool
}

// NewGenerator makes cases for op. The same seed, Now and target give the
// same cases; each operation draws its own stream from the seed.
func NewGenerator(t Target, op *Operation, seed uint64) *Generator {
	h := fnv.New64a()
	h.Write([]byte(op.String()))
	return &Generator{Now: time.Now(), target: t, op: op, rnd: rand.New(rand.NewPCG(seed, h.Sum64())), seen: map[string]bool{}}
}

// Cases makes the operation's requests, at most maxCases of them: bodies
// first, then query, path, header and auth variations.
func (g *Generator) Cases() []*Case {
	if len(g.op.bodies) > 0 {
		g.bodyCases()
	}
	g.queryCases()
	g.pathCases()
	g.headerCases()
	g.authCases()
	if g.op.Path == "/v1/stream" {
		// Only an upgrade reaches the subscription parameters.
		for _, c := range slices.Clone(g.out) {
			up := *c
			up.upgrade = true
			up.what += ", upgraded"
			g.add(&up)
		}
	}
	out := g.out
	if len(out) > maxCases {
		// Keep the first cases (valid bodies and baselines), sample the rest.
		head := out[:10]
		rest := slices.Clone(out[10:])
		g.rnd.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		out = append(slices.Clone(head), rest[:maxCases-10]...)
	}
	return out
}

func (g *Generator) pick(vs []string) string { return vs[g.rnd.IntN(len(vs))] }

func (g *Generator) schema(s *schema) *schema { return g.op.doc.schema(s) }

// add records a case unless an identical one was made already.
func (g *Generator) add(c *Case) {
	c.op = g.op
	c.key = g.target.Key
	if c.header == nil {
		c.header = http.Header{}
	}
	if _, ok := c.header["Authorization"]; !ok && c.header.Get("X-API-Key") == "" && !strings.Contains(c.rawQuery, "api_key=") {
		c.header.Set("Authorization", "Bearer "+g.target.Key)
	}
	if c.path == "" {
		c.path = g.path(nil)
	}
	// Requests that vary something else carry a valid body.
	if len(g.op.bodies) > 0 && c.body == nil && c.header.Get("Content-Type") == "" {
		ct, body := g.validBody()
		c.header.Set("Content-Type", ct)
		c.body = body
	}
	key := c.String()
	if g.seen[key] {
		return
	}
	g.seen[key] = true
	g.out = append(g.out, c)
}

// path fills the path template, with the given values or ids that exist.
func (g *Generator) path(values map[string]string) string {
	path := g.op.Path
	for _, p := range g.op.paramsIn("path") {
		v, ok := values[p.Name]
		if !ok {
			v = g.validPathValue(p)
		}
		path = strings.Replace(path, "{"+p.Name+"}", url.PathEscape(v), 1)
	}
	return path
}

func (g *Generator) validPathValue(p *param) string {
	if ids := g.target.IDs[g.op.Path]; len(ids) > 0 {
		return g.pick(ids)
	}
	return g.pick(g.validValues(p))
}

// requiredQuery is a valid value for every required query parameter.
func (g *Generator) requiredQuery(except string) []pair {
	var out []pair
	for _, p := range g.op.paramsIn("query") {
		if p.Required && p.Name != except {
			out = append(out, pair{p.Name, g.pick(g.validValues(p))})
		}
	}
	return out
}

var stepValues = []string{"1m", "30s", "60000", "1h", "1d", "5m"}

func timeValues(now time.Time) []string {
	return []string{"-6h", "now-7d", "now", "-15m", strconv.FormatInt(now.Add(-time.Hour).UnixMilli(), 10),
		now.Add(-2 * time.Hour).UTC().Format(time.RFC3339), "2026-01-02T15:04:05Z"}
}

// validValues are values of a parameter that the document says are good.
func (g *Generator) validValues(p *param) []string {
	s := g.schema(p.Schema)
	if s.Type == "array" {
		s = g.schema(s.Items)
	}
	switch {
	case p.Name == "name" && (g.op.Path == "/v1/metrics/series" || g.op.Path == "/v1/charts/{kind}" || g.op.Path == "/v1/export"):
		return g.target.Metrics
	case len(s.Enum) > 0:
		var out []string
		for _, e := range s.Enum {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case g.target.Values[p.Name] != nil:
		return g.target.Values[p.Name]
	case strings.Contains(s.Description, "unix milliseconds"):
		return timeValues(g.Now)
	case strings.Contains(s.Description, "Go duration"):
		return stepValues
	case s.Type == "integer":
		lo, hi := 1, 100
		if s.Minimum != nil {
			lo = int(*s.Minimum)
		}
		if s.Maximum != nil {
			hi = int(*s.Maximum)
		}
		return []string{strconv.Itoa(lo), strconv.Itoa(hi), strconv.Itoa(lo + g.rnd.IntN(hi-lo+1))}
	case s.Type == "number":
		return []string{"0", "12.5", "100"}
	case s.Type == "boolean":
		return []string{"true", "false"}
	case s.Example != nil:
		return []string{fmt.Sprint(s.Example)}
	}
	return []string{"fz", "fz-value"}
}

// hostileValues are values meant to find the edges of a parameter's parser.
func (g *Generator) hostileValues(p *param) []string {
	out := []string{
		"", " ", "%", "%zz", strings.Repeat("a", 1500), "ünïcødé ✓ 日本語 🙂", "\u202eevil", "\x00", "\xff\xfe", "a\nb",
		"-1", "0", "-0", "9223372036854775807", "-9223372036854775809", "18446744073709551616", "1e309", "NaN", "Infinity", "-Inf",
		"true", "null", "[]", "{}", "' OR '1'='1", `"; DROP TABLE tasks; --`, "../../etc/passwd", "${jndi:ldap://x}",
		".*", "(", "[", "\\", ",", ",,,", "=", "!=", "=~(", "a=~(", "a=~[", "a!~*", "=x", "a", "a=", "a==b",
	}
	s := g.schema(p.Schema)
	if s.Type == "array" {
		s = g.schema(s.Items)
	}
	valid := g.validValues(p)
	switch {
	case len(s.Enum) > 0:
		e := fmt.Sprint(s.Enum[0])
		out = append(out, strings.ToUpper(e), strings.ToLower(e), e+",bogus", " "+e, e+" ", "bogus", e+"\x00")
	case strings.Contains(s.Description, "unix milliseconds"):
		out = append(out, "now-", "now+1h", "now-106752d", "now-9999999999d", "-999999999h", "now--1h", "-1ms", "9999-12-31T23:59:59Z",
			"0001-01-01T00:00:00Z", "2026-13-45T99:99:99Z", "2026-01-02", "1", "253402300800000", "-6h30x", "now-1.5h", "now-1e3s")
	case strings.Contains(s.Description, "Go duration"):
		out = append(out, "0s", "-1m", "1ns", "1ms", "100000d", "106752d", "9999999999999999d", "1.5d", "1m-", "2562047h", "99999999999999999999", "1µs", "0.5")
	case s.Type == "integer":
		out = append(out, "1.5", "abc", "0x10", "+5", " 5", "5 ", "1_000", "01")
		if s.Maximum != nil {
			out = append(out, strconv.Itoa(int(*s.Maximum)+1))
		}
		if s.Minimum != nil {
			out = append(out, strconv.Itoa(int(*s.Minimum)-1))
		}
	case s.Type == "number":
		out = append(out, "1e400", "-1e400", "0x1p4", "1,5", "abc", "+Inf")
	case s.Type == "boolean":
		out = append(out, "yes", "2", "TRUE", "t", "on")
	}
	if g.schema(p.Schema).Type == "array" {
		out = append(out, valid[0]+","+valid[0], valid[0]+",,"+valid[0], strings.Repeat(valid[0]+",", 300))
	}
	return out
}

// base is a request with valid required parameters (all but except),
// to which a case adds what it varies.
func (g *Generator) base(what, except string, extra ...pair) *Case {
	c := &Case{what: what}
	if g.op.Path == "/v1/charts/{kind}" {
		// Which parameters a chart takes depends on its kind and source.
		bases := g.chartBases()
		b := bases[g.rnd.IntN(len(bases))]
		c.path = g.path(map[string]string{"kind": b.kind})
		for _, p := range b.query {
			if p.name != except {
				c.query = append(c.query, p)
			}
		}
	} else {
		c.query = g.requiredQuery(except)
	}
	c.query = append(c.query, extra...)
	return c
}

type chartBase struct {
	kind  string
	query []pair
}

// chartBases are chart requests that draw, one per kind.
func (g *Generator) chartBases() []chartBase {
	gauge, counter := g.target.Metrics[0], g.target.Metrics[1]
	return []chartBase{
		{"line", []pair{{"source", "metric"}, {"name", gauge}}},
		{"area", []pair{{"name", counter}}},
		{"bar", []pair{{"source", "task_activity"}}},
		{"gauge", []pair{{"name", gauge}}},
		{"table", []pair{{"source", "tasks_by_status"}}},
		{"pie", nil},
		{"heatmap", nil},
		{"scatter", []pair{{"source", "task_durations"}}},
	}
}

// queryCases vary each query parameter in turn.
func (g *Generator) queryCases() {
	params := g.op.paramsIn("query")
	g.add(g.base("required parameters only", ""))
	for _, p := range params {
		valid := g.validValues(p)
		for _, v := range valid {
			g.add(g.base("valid "+p.Name, p.Name, pair{p.Name, v}))
		}
		if p.Required {
			g.add(g.base("missing required "+p.Name, p.Name))
		}
		hostile := g.hostileValues(p)
		g.rnd.Shuffle(len(hostile), func(i, j int) { hostile[i], hostile[j] = hostile[j], hostile[i] })
		for _, v := range hostile[:min(len(hostile), 14)] {
			g.add(g.base("hostile "+p.Name, p.Name, pair{p.Name, v}))
		}
		g.add(g.base("repeated "+p.Name, p.Name, pair{p.Name, g.pick(valid)}, pair{p.Name, g.pick(valid)}))
		if g.schema(p.Schema).Type == "array" {
			many := make([]pair, 150)
			for i := range many {
				many[i] = pair{p.Name, fmt.Sprintf("%s-%d", g.pick(valid), i)}
			}
			g.add(g.base("many "+p.Name, p.Name, many...))
		}
	}
	for _, name := range []string{"zz_unknown", "LIMIT", "limit[]", "ünï", ""} {
		g.add(g.base("unknown parameter", "", pair{name, "1"}))
	}
	for _, raw := range []string{"&&&", "=", "%", "%zz=1", "a=%zz", "=1", "&=&", "x=1;y=2", "api_key=" + g.target.Key} {
		c := g.base("raw query", "")
		c.rawQuery = c.queryString() + "&" + raw
		g.add(c)
	}
	// A few requests mix valid and hostile values of several parameters.
	for range 8 {
		if len(params) == 0 {
			break
		}
		c := g.base("mixed parameters", "")
		c.query = nil
		for _, p := range params {
			switch g.rnd.IntN(4) {
			case 0:
				c.query = append(c.query, pair{p.Name, g.pick(g.hostileValues(p))})
			case 1, 2:
				c.query = append(c.query, pair{p.Name, g.pick(g.validValues(p))})
			}
		}
		g.add(c)
	}
	// Valid combinations of several parameters reach the store.
	for range 8 {
		if len(params) < 2 {
			break
		}
		c := g.base("valid parameters together", "")
		for _, p := range params {
			if !p.Required && !slices.ContainsFunc(c.query, func(q pair) bool { return q.name == p.Name }) && g.rnd.IntN(3) == 0 {
				c.query = append(c.query, pair{p.Name, g.pick(g.validValues(p))})
			}
		}
		g.add(c)
	}
}

// pathCases vary each path parameter.
func (g *Generator) pathCases() {
	for _, p := range g.op.paramsIn("path") {
		values := append(g.validValues(p), g.target.IDs[g.op.Path]...)
		// "." and ".." are left out: they name another path, not an id.
		values = append(values, "does-not-exist", strings.Repeat("x", 257), strings.Repeat("y", 5000), "ünïcødé ✓ 🙂", "a b", "a/b",
			"%", "%2F", "\x00", "\xff", "-1", "0", "9223372036854775808", "' OR '1'='1", "*", "~", "a?b", "a#b", "UPPER", " ")
		for _, v := range values {
			g.add(&Case{what: "path " + p.Name, path: g.path(map[string]string{p.Name: v}), query: g.requiredQuery("")})
		}
	}
}

// headerCases vary the documented header parameters.
func (g *Generator) headerCases() {
	for _, p := range g.op.paramsIn("header") {
		for _, v := range []string{`"1"`, `"2"`, `"999999"`, "1", "*", `W/"1"`, `""`, "garbage", `"-1"`, `"9223372036854775808"`, "ünï"} {
			c := g.base("header "+p.Name, "")
			c.header = http.Header{p.Name: {v}}
			g.add(c)
		}
	}
}

// authCases send no key, a wrong one, and the key in each documented place.
func (g *Generator) authCases() {
	key := g.target.Key
	for _, h := range []http.Header{
		{"Authorization": {""}},
		{"Authorization": {"Bearer wrong-key"}},
		{"Authorization": {"Bearer "}},
		{"Authorization": {"Basic " + key}},
		{"Authorization": {"bearer " + key}},
		{"Authorization": {"Bearer " + g.target.OtherKey}},
		{"X-Api-Key": {key}},
		{"X-Api-Key": {"wrong-key"}},
	} {
		c := g.base("auth", "")
		c.header = h.Clone()
		g.add(c)
	}
	g.add(&Case{what: "auth in the query", rawQuery: "api_key=" + key, header: http.Header{"Authorization": {""}}})
	g.add(&Case{what: "wrong auth in the query", rawQuery: "api_key=wrong", header: http.Header{"Authorization": {""}}})
}
