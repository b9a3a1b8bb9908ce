package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// The API fuzzer reads the OpenAPI document the server serves, makes
// requests for every operation from it (valid-looking ones and hostile
// ones), and checks every answer against what the document promises:
// no 5xx, only documented statuses, the documented error shape, and
// bodies that parse. It is deterministic: one fixed seed, and a bounded
// number of cases per operation.

const (
	apiFuzzSeed = 20260101
	// apiFuzzCases bounds the requests made for one operation.
	apiFuzzCases = 120
	// apiFuzzBodyLimit is the server's --body-limit, small enough that
	// a request over it is cheap to send.
	apiFuzzBodyLimit = 64 << 10
	apiFuzzKey       = "fuzz-key-0123456789"
)

// --- the document --------------------------------------------------------

type apiSchema struct {
	Ref                  string                `json:"$ref"`
	Type                 string                `json:"type"`
	Description          string                `json:"description"`
	Enum                 []any                 `json:"enum"`
	Properties           map[string]*apiSchema `json:"properties"`
	Required             []string              `json:"required"`
	Items                *apiSchema            `json:"items"`
	AdditionalProperties json.RawMessage       `json:"additionalProperties"`
	OneOf                []*apiSchema          `json:"oneOf"`
	AllOf                []*apiSchema          `json:"allOf"`
	MaxLength            *int                  `json:"maxLength"`
	Minimum              *float64              `json:"minimum"`
	Maximum              *float64              `json:"maximum"`
	MinItems             *int                  `json:"minItems"`
	Example              any                   `json:"example"`
}

type apiParam struct {
	Ref         string     `json:"$ref"`
	Name        string     `json:"name"`
	In          string     `json:"in"`
	Required    bool       `json:"required"`
	Description string     `json:"description"`
	Schema      *apiSchema `json:"schema"`
}

type apiMedia struct {
	Schema *apiSchema `json:"schema"`
}

type apiResponse struct {
	Ref     string              `json:"$ref"`
	Content map[string]apiMedia `json:"content"`
}

type apiRawOperation struct {
	Parameters  []*apiParam `json:"parameters"`
	RequestBody *struct {
		Content map[string]apiMedia `json:"content"`
	} `json:"requestBody"`
	Responses map[string]*apiResponse `json:"responses"`
}

type apiDocument struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas    map[string]*apiSchema   `json:"schemas"`
		Parameters map[string]*apiParam    `json:"parameters"`
		Responses  map[string]*apiResponse `json:"responses"`
	} `json:"components"`
}

// apiOperation is one documented method and path, its references resolved.
type apiOperation struct {
	Method, Path string
	Params       []*apiParam
	// Bodies maps each documented request content type to its schema.
	Bodies map[string]*apiSchema
	// Responses maps each documented status to its content types.
	Responses map[int][]string
}

func (op *apiOperation) String() string { return op.Method + " " + op.Path }

func (op *apiOperation) param(name string) *apiParam {
	for _, p := range op.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func (op *apiOperation) queryParams() []*apiParam {
	var out []*apiParam
	for _, p := range op.Params {
		if p.In == "query" {
			out = append(out, p)
		}
	}
	return out
}

func (op *apiOperation) pathParams() []*apiParam {
	var out []*apiParam
	for _, p := range op.Params {
		if p.In == "path" {
			out = append(out, p)
		}
	}
	return out
}

func (d *apiDocument) schema(s *apiSchema) *apiSchema {
	for s != nil && s.Ref != "" {
		s = d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	// allOf is used here only to annotate one referenced schema.
	if s != nil && len(s.AllOf) == 1 && s.Type == "" {
		inner := *d.schema(s.AllOf[0])
		if s.Description != "" {
			inner.Description = s.Description
		}
		return &inner
	}
	return s
}

// operations lists the document's operations in a stable order.
func (d *apiDocument) operations(t testing.TB) []*apiOperation {
	t.Helper()
	var ops []*apiOperation
	for path, item := range d.Paths {
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			var ro apiRawOperation
			require.NoError(t, json.Unmarshal(raw, &ro), "%s %s", method, path)
			op := &apiOperation{Method: strings.ToUpper(method), Path: path, Responses: map[int][]string{}}
			for _, p := range ro.Parameters {
				if p.Ref != "" {
					p = d.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
					require.NotNil(t, p, "%s %s: unresolved parameter", method, path)
				}
				op.Params = append(op.Params, p)
			}
			if ro.RequestBody != nil {
				op.Bodies = map[string]*apiSchema{}
				for ct, m := range ro.RequestBody.Content {
					op.Bodies[ct] = d.schema(m.Schema)
				}
			}
			for code, r := range ro.Responses {
				status, err := strconv.Atoi(code)
				require.NoError(t, err, "%s %s: response %q", method, path, code)
				if r.Ref != "" {
					r = d.Components.Responses[strings.TrimPrefix(r.Ref, "#/components/responses/")]
					require.NotNil(t, r, "%s %s: unresolved response %s", method, path, code)
				}
				op.Responses[status] = slices.Sorted(mapKeys(r.Content))
			}
			ops = append(ops, op)
		}
	}
	// Deletions go last, so that the other operations find what exists.
	sort.Slice(ops, func(i, j int) bool {
		if di, dj := ops[i].Method == http.MethodDelete, ops[j].Method == http.MethodDelete; di != dj {
			return dj
		}
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return ops[i].Method < ops[j].Method
	})
	return ops
}

// errorCodes are the codes the document's Error schema allows.
func (d *apiDocument) errorCodes() []string {
	e := d.schema(d.schema(d.Components.Schemas["Error"]).Properties["error"])
	var codes []string
	for _, c := range d.schema(e.Properties["code"]).Enum {
		codes = append(codes, fmt.Sprint(c))
	}
	return codes
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func fetchAPIDocument(t testing.TB, srv *server) *apiDocument {
	t.Helper()
	resp, err := http.Get(srv.base + "/openapi.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var doc apiDocument
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	return &doc
}

// --- the server and its data ----------------------------------------------

// apiFixture is a server seeded with a little of everything, and the ids
// of what was made, so that requests can name things that exist.
type apiFixture struct {
	srv *server
	doc *apiDocument
	// ids holds, by path template, ids that exist for its path parameter.
	ids map[string][]string
	// ruleFileID is the rule of the rules file (read-only through the API).
	ruleFileID string
}

func startAPIFixture(t testing.TB) *apiFixture {
	t.Helper()
	hook := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })}
	hookLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go hook.Serve(hookLn)
	t.Cleanup(func() { hook.Close() })

	rules := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rules, []byte(`channels:
  hook:
    type: webhook
    url: http://`+hookLn.Addr().String()+`/alerts
    tenants: [fuzz]
rules:
  - id: file-failed
    tenant: fuzz
    kind: task_failed
    task_type: fz_type
    severity: critical
    channels: [hook]
`), 0o600))
	srv := startServer(t, "--api-keys", apiFuzzKey+"=fuzz,other-key-0123456789=other", "--alert-rules", rules,
		"--body-limit", strconv.Itoa(apiFuzzBodyLimit),
		// The fuzzer sends wrong keys by design; limiting its address
		// would leave every later request a 429.
		"--auth-failures-rate", "0")
	fx := &apiFixture{srv: srv, doc: fetchAPIDocument(t, srv), ids: map[string][]string{}, ruleFileID: "file-failed"}

	now := time.Now().UnixMilli()
	progress := []string{
		`{"task_id":"fz-task-1","user_id":"fz-user","task_type":"fz_type","status":"running","progress":10,"seq":1,"attributes":{"region":"eu"}}`,
		`{"task_id":"fz-task-1","user_id":"fz-user","task_type":"fz_type","status":"running","progress":60,"seq":2,"current_step":"copy"}`,
		`{"task_id":"fz-task-2","user_id":"fz-user","task_type":"other_type","status":"completed","progress":100,"seq":1}`,
		`{"task_id":"fz-task-3","user_id":"fz-other","task_type":"fz_type","status":"running","progress":5,"seq":1}`,
		`{"task_id":"fz-task-3","user_id":"fz-other","task_type":"fz_type","status":"failed","progress":5,"seq":2,"error":"boom"}`,
	}
	fx.mustAnswer(t, http.MethodPost, "/v1/progress", ctJSON, progressBody(progress...), http.StatusAccepted)
	var logs, metrics []string
	for i, level := range []string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"} {
		logs = append(logs, fmt.Sprintf(`{"task_id":"fz-task-1","user_id":"fz-user","level":%q,"message":"step %d copied files","source":"worker","timestamp":%d,"attributes":{"region":"eu"}}`, level, i, now-int64(i)*60_000))
		metrics = append(metrics, fmt.Sprintf(`{"name":"fz_metric","value":%d,"timestamp":%d,"labels":{"region":"eu","host":"h%d"}}`, i*10, now-int64(i)*60_000, i%2))
		metrics = append(metrics, fmt.Sprintf(`{"name":"fz_counter","kind":"counter","value":%d,"timestamp":%d,"labels":{"region":"us"}}`, i*100, now-int64(i)*60_000))
	}
	fx.mustAnswer(t, http.MethodPost, "/v1/logs", ctJSON, "["+strings.Join(logs, ",")+"]", http.StatusAccepted)
	fx.mustAnswer(t, http.MethodPost, "/v1/metrics", ctJSON, "["+strings.Join(metrics, ",")+"]", http.StatusAccepted)
	srv.waitTask(t, apiFuzzKey, "fz-task-1", "running", 2)
	srv.waitTask(t, apiFuzzKey, "fz-task-3", "failed", 2)
	fx.ids["/v1/tasks/{id}"] = []string{"fz-task-1", "fz-task-2", "fz-task-3"}
	fx.ids["/v1/tasks/{id}/events"] = fx.ids["/v1/tasks/{id}"]
	fx.ids["/v1/tasks/{id}/logs"] = fx.ids["/v1/tasks/{id}"]

	for i := range 2 {
		d := fx.mustAnswer(t, http.MethodPost, "/v1/dashboards", ctJSON,
			fmt.Sprintf(`{"title":"fz board %d","panels":[{"title":"depth","chart":"line","query":{"name":"fz_metric","agg":"max","group_by":"region"}},{"title":"states","chart":"pie"}]}`, i), http.StatusCreated)
		fx.ids["/v1/dashboards/{id}"] = append(fx.ids["/v1/dashboards/{id}"], fmt.Sprint(d["id"]))
	}
	for _, id := range []string{"fz-rule-1", "fz-rule-2", "fz-rule-3"} {
		fx.mustAnswer(t, http.MethodPost, "/v1/alert-rules", ctJSON,
			`{"id":"`+id+`","kind":"task_stalled","params":{"stalled_after":"1h"},"severity":"info"}`, http.StatusCreated)
		fx.ids["/v1/alert-rules/{id}"] = append(fx.ids["/v1/alert-rules/{id}"], id)
	}
	fx.ids["/v1/alert-rules/{id}"] = append(fx.ids["/v1/alert-rules/{id}"], fx.ruleFileID)
	for range 3 {
		sl := fx.mustAnswer(t, http.MethodPost, "/v1/silences", ctJSON,
			`{"matchers":[{"name":"rule","op":"=","value":"fz-nothing"}],"duration":"1h","comment":"fuzz"}`, http.StatusCreated)
		fx.ids["/v1/silences/{id}"] = append(fx.ids["/v1/silences/{id}"], fmt.Sprint(sl["id"]))
	}
	// The failed fz_type task fires the file rule, which leaves a
	// notification to mark read.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && len(fx.ids["/v1/notifications/{id}/read"]) == 0 {
		r := srv.get(t, apiFuzzKey, "/v1/notifications")
		if list, ok := r.body["notifications"].([]any); ok {
			for _, n := range list {
				fx.ids["/v1/notifications/{id}/read"] = append(fx.ids["/v1/notifications/{id}/read"], fmt.Sprint(n.(map[string]any)["id"]))
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NotEmpty(t, fx.ids["/v1/notifications/{id}/read"], "the failed task never made a notification")
	return fx
}

func (fx *apiFixture) mustAnswer(t testing.TB, method, path, contentType, body string, want int) map[string]any {
	t.Helper()
	r := fx.srv.do(t, method, path, apiFuzzKey, contentType, body)
	require.Equal(t, want, r.status, "%s %s %s: %v", method, path, body, r.body)
	return r.body
}

// --- cases ----------------------------------------------------------------

type apiPair struct{ name, value string }

// apiCase is one request.
type apiCase struct {
	op   *apiOperation
	what string
	path string
	// query is written in order; rawQuery, when set, is sent as it is.
	query    []apiPair
	rawQuery string
	header   http.Header
	body     []byte
	// upgrade asks for a WebSocket.
	upgrade bool
}

func (c *apiCase) queryString() string {
	if c.rawQuery != "" {
		return c.rawQuery
	}
	parts := make([]string, len(c.query))
	for i, p := range c.query {
		parts[i] = url.QueryEscape(p.name) + "=" + url.QueryEscape(p.value)
	}
	return strings.Join(parts, "&")
}

func (c *apiCase) target() string {
	if q := c.queryString(); q != "" {
		return c.path + "?" + q
	}
	return c.path
}

// queryNames are the parameter names the server sees, read as the server
// (fasthttp) reads a query string.
func (c *apiCase) queryNames() map[string]bool {
	var args fasthttp.Args
	args.Parse(c.queryString())
	names := map[string]bool{}
	// A name that is not UTF-8 can only come back in a JSON error with its
	// bad bytes replaced.
	args.VisitAll(func(k, _ []byte) { names[strings.ToValidUTF8(string(k), "\uFFFD")] = true })
	return names
}

func (c *apiCase) String() string {
	var b strings.Builder
	target := c.target()
	if len(target) > 300 {
		target = fmt.Sprintf("%s…(%d bytes in all)", target[:300], len(target))
	}
	fmt.Fprintf(&b, "%s %s", c.op.Method, target)
	if c.upgrade {
		b.WriteString(" (WebSocket upgrade)")
	}
	for _, k := range slices.Sorted(mapKeys(c.header)) {
		v := c.header.Get(k)
		if k == "Authorization" || k == "X-Api-Key" {
			v = strings.ReplaceAll(v, apiFuzzKey, "<key>")
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

// apiGen makes the cases of one operation from the document.
type apiGen struct {
	fx   *apiFixture
	op   *apiOperation
	rnd  *rand.Rand
	now  time.Time
	out  []*apiCase
	seen map[string]bool
}

func newAPIGen(fx *apiFixture, op *apiOperation) *apiGen {
	h := fnv.New64a()
	h.Write([]byte(op.String()))
	return &apiGen{fx: fx, op: op, rnd: rand.New(rand.NewPCG(apiFuzzSeed, h.Sum64())), now: time.Now(), seen: map[string]bool{}}
}

func (g *apiGen) pick(vs []string) string { return vs[g.rnd.IntN(len(vs))] }

// add records a case unless an identical one was made already.
func (g *apiGen) add(c *apiCase) {
	c.op = g.op
	if c.header == nil {
		c.header = http.Header{}
	}
	if _, ok := c.header["Authorization"]; !ok && c.header.Get("X-API-Key") == "" && !strings.Contains(c.rawQuery, "api_key=") {
		c.header.Set("Authorization", "Bearer "+apiFuzzKey)
	}
	if c.path == "" {
		c.path = g.path(nil)
	}
	// Requests that vary something else carry a valid body.
	if len(g.op.Bodies) > 0 && c.body == nil && c.header.Get("Content-Type") == "" {
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
func (g *apiGen) path(values map[string]string) string {
	path := g.op.Path
	for _, p := range g.op.pathParams() {
		v, ok := values[p.Name]
		if !ok {
			v = g.validPathValue(p)
		}
		path = strings.Replace(path, "{"+p.Name+"}", url.PathEscape(v), 1)
	}
	return path
}

func (g *apiGen) validPathValue(p *apiParam) string {
	if ids := g.fx.ids[g.op.Path]; len(ids) > 0 {
		return g.pick(ids)
	}
	return g.pick(g.validValues(p))
}

// requiredQuery is a valid value for every required query parameter.
func (g *apiGen) requiredQuery(except string) []apiPair {
	var out []apiPair
	for _, p := range g.op.queryParams() {
		if p.Required && p.Name != except {
			out = append(out, apiPair{p.Name, g.pick(g.validValues(p))})
		}
	}
	return out
}

var (
	timeValues = func(now time.Time) []string {
		return []string{"-6h", "now-7d", "now", "-15m", strconv.FormatInt(now.Add(-time.Hour).UnixMilli(), 10),
			now.Add(-2 * time.Hour).UTC().Format(time.RFC3339), "2026-01-02T15:04:05Z"}
	}
	stepValues   = []string{"1m", "30s", "60000", "1h", "1d", "5m"}
	seededValues = map[string][]string{
		"task_id":               {"fz-task-1", "fz-task-2", "fz-task-3"},
		"logs_task_id":          {"fz-task-1", "fz-task-3"},
		"user_id":               {"fz-user", "fz-other"},
		"notifications_user_id": {"fz-user", "fz-other"},
		"task_type":             {"fz_type", "other_type"},
		"source":                {"worker"},
		"text":                  {"copied", "step", "files copied"},
		"group_by":              {"region", "region,host", "host"},
		"attr":                  {"region=eu", "region!=us", "region=~e.*", "region!~x"},
		"match":                 {"region=eu", "host!=h0", "region=~e.*", "host!~h1"},
		"unit":                  {"ms", "%"},
	}
)

// validValues are values of a parameter that the document says are good.
func (g *apiGen) validValues(p *apiParam) []string {
	s := g.fx.doc.schema(p.Schema)
	if s.Type == "array" {
		s = g.fx.doc.schema(s.Items)
	}
	switch {
	case p.Name == "name" && (g.op.Path == "/v1/metrics/series" || g.op.Path == "/v1/charts/{kind}" || g.op.Path == "/v1/export"):
		return []string{"fz_metric", "fz_counter"}
	case len(s.Enum) > 0:
		var out []string
		for _, e := range s.Enum {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case seededValues[p.Name] != nil:
		return seededValues[p.Name]
	case strings.Contains(s.Description, "unix milliseconds"):
		return timeValues(g.now)
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
func (g *apiGen) hostileValues(p *apiParam) []string {
	out := []string{
		"", " ", "%", "%zz", strings.Repeat("a", 1500), "ünïcødé ✓ 日本語 🙂", "\u202eevil", "\x00", "\xff\xfe", "a\nb",
		"-1", "0", "-0", "9223372036854775807", "-9223372036854775809", "18446744073709551616", "1e309", "NaN", "Infinity", "-Inf",
		"true", "null", "[]", "{}", "' OR '1'='1", `"; DROP TABLE tasks; --`, "../../etc/passwd", "${jndi:ldap://x}",
		".*", "(", "[", "\\", ",", ",,,", "=", "!=", "=~(", "a=~(", "a=~[", "a!~*", "=x", "a", "a=", "a==b",
	}
	s := g.fx.doc.schema(p.Schema)
	if s.Type == "array" {
		s = g.fx.doc.schema(s.Items)
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
	if g.fx.doc.schema(p.Schema).Type == "array" {
		out = append(out, valid[0]+","+valid[0], valid[0]+",,"+valid[0], strings.Repeat(valid[0]+",", 300))
	}
	return out
}

// base is a request with valid required parameters (all but except),
// to which a case adds what it varies.
func (g *apiGen) base(what, except string, extra ...apiPair) *apiCase {
	c := &apiCase{what: what}
	if g.op.Path == "/v1/charts/{kind}" {
		// Which parameters a chart takes depends on its kind and source.
		b := chartBases[g.rnd.IntN(len(chartBases))]
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

// chartBases are chart requests that draw, one per kind.
var chartBases = []struct {
	kind  string
	query []apiPair
}{
	{"line", []apiPair{{"source", "metric"}, {"name", "fz_metric"}}},
	{"area", []apiPair{{"name", "fz_counter"}}},
	{"bar", []apiPair{{"source", "task_activity"}}},
	{"gauge", []apiPair{{"name", "fz_metric"}}},
	{"table", []apiPair{{"source", "tasks_by_status"}}},
	{"pie", nil},
	{"heatmap", nil},
	{"scatter", []apiPair{{"source", "task_durations"}}},
}

// queryCases vary each query parameter in turn.
func (g *apiGen) queryCases() {
	params := g.op.queryParams()
	g.add(g.base("required parameters only", ""))
	for _, p := range params {
		valid := g.validValues(p)
		for _, v := range valid {
			g.add(g.base("valid "+p.Name, p.Name, apiPair{p.Name, v}))
		}
		if p.Required {
			g.add(g.base("missing required "+p.Name, p.Name))
		}
		hostile := g.hostileValues(p)
		g.rnd.Shuffle(len(hostile), func(i, j int) { hostile[i], hostile[j] = hostile[j], hostile[i] })
		for _, v := range hostile[:min(len(hostile), 14)] {
			g.add(g.base("hostile "+p.Name, p.Name, apiPair{p.Name, v}))
		}
		g.add(g.base("repeated "+p.Name, p.Name, apiPair{p.Name, g.pick(valid)}, apiPair{p.Name, g.pick(valid)}))
		if g.fx.doc.schema(p.Schema).Type == "array" {
			many := make([]apiPair, 150)
			for i := range many {
				many[i] = apiPair{p.Name, fmt.Sprintf("%s-%d", g.pick(valid), i)}
			}
			g.add(g.base("many "+p.Name, p.Name, many...))
		}
	}
	for _, name := range []string{"zz_unknown", "LIMIT", "limit[]", "ünï", ""} {
		g.add(g.base("unknown parameter", "", apiPair{name, "1"}))
	}
	for _, raw := range []string{"&&&", "=", "%", "%zz=1", "a=%zz", "=1", "&=&", "x=1;y=2", "api_key=" + apiFuzzKey} {
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
				c.query = append(c.query, apiPair{p.Name, g.pick(g.hostileValues(p))})
			case 1, 2:
				c.query = append(c.query, apiPair{p.Name, g.pick(g.validValues(p))})
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
			if !p.Required && !slices.ContainsFunc(c.query, func(q apiPair) bool { return q.name == p.Name }) && g.rnd.IntN(3) == 0 {
				c.query = append(c.query, apiPair{p.Name, g.pick(g.validValues(p))})
			}
		}
		g.add(c)
	}
}

// pathCases vary each path parameter.
func (g *apiGen) pathCases() {
	for _, p := range g.op.pathParams() {
		values := append(g.validValues(p), g.fx.ids[g.op.Path]...)
		// "." and ".." are left out: they name another path, not an id.
		values = append(values, "does-not-exist", strings.Repeat("x", 257), strings.Repeat("y", 5000), "ünïcødé ✓ 🙂", "a b", "a/b",
			"%", "%2F", "\x00", "\xff", "-1", "0", "9223372036854775808", "' OR '1'='1", "*", "~", "a?b", "a#b", "UPPER", " ")
		for _, v := range values {
			g.add(&apiCase{what: "path " + p.Name, path: g.path(map[string]string{p.Name: v}), query: g.requiredQuery("")})
		}
	}
}

// authCases send no key, a wrong one, and the key in each documented place.
func (g *apiGen) authCases() {
	for _, h := range []http.Header{
		{"Authorization": {""}},
		{"Authorization": {"Bearer wrong-key"}},
		{"Authorization": {"Bearer "}},
		{"Authorization": {"Basic " + apiFuzzKey}},
		{"Authorization": {"bearer " + apiFuzzKey}},
		{"Authorization": {"Bearer other-key-0123456789"}},
		{"X-Api-Key": {apiFuzzKey}},
		{"X-Api-Key": {"wrong-key"}},
	} {
		c := g.base("auth", "")
		c.header = h.Clone()
		g.add(c)
	}
	g.add(&apiCase{what: "auth in the query", rawQuery: "api_key=" + apiFuzzKey, header: http.Header{"Authorization": {""}}})
	g.add(&apiCase{what: "wrong auth in the query", rawQuery: "api_key=wrong", header: http.Header{"Authorization": {""}}})
}

// validBody is a body of a documented content type, derived from its schema.
func (g *apiGen) validBody() (string, []byte) {
	if s := g.op.Bodies[ctJSON]; s != nil {
		return ctJSON, g.marshal(g.value(s, "", 0))
	}
	cts := slices.Sorted(mapKeys(g.op.Bodies))
	ct := cts[0]
	return ct, g.textBody(ct, g.op.Bodies[ct])
}

func (g *apiGen) marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("BUG: generated value does not encode: " + err.Error())
	}
	return b
}

// itemSchema is the object schema of a body that is one object or an
// array of them.
func (g *apiGen) itemSchema(s *apiSchema) *apiSchema {
	for _, o := range s.OneOf {
		if o := g.fx.doc.schema(o); o.Type == "object" {
			return o
		}
	}
	return s
}

// textBody is a body of a content type whose schema is a string: lines of
// JSON items (NDJSON), the Prometheus text format, or OTLP protobuf.
func (g *apiGen) textBody(ct string, s *apiSchema) []byte {
	switch {
	case strings.Contains(ct, "ndjson") || strings.Contains(ct, "jsonl") || strings.Contains(ct, "jsonlines"):
		item := g.itemSchema(g.op.Bodies[ctJSON])
		var b bytes.Buffer
		for range 1 + g.rnd.IntN(3) {
			b.Write(g.marshal(g.value(item, "", 0)))
			b.WriteByte('\n')
		}
		return b.Bytes()
	case strings.HasPrefix(ct, "text/plain"):
		return []byte(fmt.Sprint(s.Example))
	case ct == ctProto:
		return nil // an empty export request
	}
	return []byte(fmt.Sprint(s.Example))
}

// value is a valid-looking value of schema s for the property named name.
func (g *apiGen) value(s *apiSchema, name string, depth int) any {
	s = g.fx.doc.schema(s)
	if len(s.OneOf) > 0 {
		return g.value(s.OneOf[g.rnd.IntN(len(s.OneOf))], name, depth)
	}
	if len(s.Enum) > 0 {
		return s.Enum[g.rnd.IntN(len(s.Enum))]
	}
	now := g.now.UnixMilli()
	switch s.Type {
	case "object":
		obj := map[string]any{}
		for _, k := range slices.Sorted(mapKeys(s.Properties)) {
			if slices.Contains(s.Required, k) || (depth < 3 && g.rnd.IntN(3) == 0) {
				obj[k] = g.value(s.Properties[k], k, depth+1)
			}
		}
		if add := g.additional(s); add != nil && depth < 3 {
			for i := range g.rnd.IntN(3) {
				obj[fmt.Sprintf("k%d", i)] = g.value(add, "", depth+1)
			}
		}
		if _, ok := s.Properties["kind"]; ok && s.Properties["params"] != nil && g.rnd.IntN(4) != 0 {
			g.fitRule(obj)
		}
		return obj
	case "array":
		n := 1 + g.rnd.IntN(2)
		if s.MinItems != nil && *s.MinItems > n {
			n = *s.MinItems
		}
		out := make([]any, n)
		for i := range out {
			out[i] = g.value(s.Items, name, depth+1)
		}
		return out
	case "integer":
		switch name {
		case "timestamp", "starts_at":
			return now - int64(g.rnd.IntN(3_600_000))
		case "ends_at":
			return now + 3_600_000
		}
		lo, hi := 0, 100
		if s.Minimum != nil {
			lo = int(*s.Minimum)
		}
		if s.Maximum != nil {
			hi = int(*s.Maximum)
		}
		return lo + g.rnd.IntN(hi-lo+1)
	case "number":
		lo, hi := 0.0, 100.0
		if s.Minimum != nil {
			lo = *s.Minimum
		}
		if s.Maximum != nil {
			hi = *s.Maximum
		}
		return lo + float64(g.rnd.IntN(int(hi-lo)+1))
	case "boolean":
		return g.rnd.IntN(2) == 0
	case "string":
		switch {
		case strings.Contains(s.Description, "Go duration"):
			return g.pick([]string{"5m", "1h", "30s"})
		case s.Example != nil:
			return fmt.Sprint(s.Example)
		case name == "task_id":
			return g.pick(seededValues["task_id"])
		}
		return fmt.Sprintf("fz_%s%d", name, g.rnd.IntN(100))
	}
	return nil
}

// fitRule makes most generated alert rules valid for their kind, which
// the schema cannot say: each kind takes its own params, task kinds take
// task_type and no interval, and channels must be configured ones.
func (g *apiGen) fitRule(rule map[string]any) {
	params := map[string]map[string]any{
		"metric_threshold": {"metric": "fz_metric", "agg": "max", "window": "5m", "op": ">", "threshold": 50},
		"error_log_rate":   {"window": "5m", "op": ">=", "threshold": 3},
		"task_failed":      {},
		"task_stalled":     {"stalled_after": "1h"},
		"task_slow":        {"max_duration": "2h"},
	}
	kind := fmt.Sprint(rule["kind"])
	if params[kind] == nil {
		return
	}
	rule["params"] = params[kind]
	if strings.HasPrefix(kind, "task_") {
		delete(rule, "interval")
	} else {
		delete(rule, "task_type")
	}
	if _, ok := rule["channels"]; ok {
		rule["channels"] = []any{"hook"}
	}
	// The id is the path's on PUT, a new one on POST.
	delete(rule, "id")
}

func (g *apiGen) additional(s *apiSchema) *apiSchema {
	if len(s.AdditionalProperties) == 0 || s.AdditionalProperties[0] != '{' {
		return nil
	}
	var a apiSchema
	if json.Unmarshal(s.AdditionalProperties, &a) != nil {
		return nil
	}
	return &a
}

// wrongType is a value of another JSON type than schema s.
func (g *apiGen) wrongType(s *apiSchema) []any {
	switch g.fx.doc.schema(s).Type {
	case "string":
		return []any{12345, true, []any{"x"}, map[string]any{}}
	case "integer":
		return []any{"12", 1.5, 1e300, -9.3e18, true}
	case "number":
		return []any{"12", "NaN", false, []any{}}
	case "boolean":
		return []any{"true", 1}
	case "object":
		return []any{"x", []any{}, 1}
	case "array":
		return []any{"x", map[string]any{"a": 1}, 1}
	}
	return []any{map[string]any{"deep": []any{1}}, "x"}
}

// oversized is a value beyond the length or range the schema allows.
func (g *apiGen) oversized(s *apiSchema) []any {
	s = g.fx.doc.schema(s)
	switch s.Type {
	case "string":
		n := 20_000
		if s.MaxLength != nil {
			n = *s.MaxLength + 1
		}
		return []any{strings.Repeat("x", n), strings.Repeat("é", n), ""}
	case "integer":
		out := []any{json.Number("9223372036854775808"), json.Number("-9223372036854775809"), -1}
		if s.Maximum != nil {
			out = append(out, int(*s.Maximum)+1)
		}
		return out
	case "number":
		out := []any{json.Number("1e400"), json.Number("-1e400"), -1e308}
		if s.Maximum != nil {
			out = append(out, *s.Maximum+1)
		}
		if s.Minimum != nil {
			out = append(out, *s.Minimum-1)
		}
		return out
	case "array":
		many := make([]any, 1001)
		for i := range many {
			many[i] = g.value(s.Items, "", 2)
		}
		return []any{[]any{}, many}
	case "object":
		many := map[string]any{}
		for i := range 100 {
			many[fmt.Sprintf("k%d", i)] = "v"
		}
		return []any{many}
	}
	return nil
}

// bodyMutations vary a valid value: each field missing, of a wrong type,
// too big, and an unknown field, at every level the schema describes.
// set replaces the value itself.
func (g *apiGen) bodyMutations(s *apiSchema, v any, set func(any)) []func() {
	s = g.fx.doc.schema(s)
	if s == nil {
		return nil
	}
	var out []func()
	switch v := v.(type) {
	case map[string]any:
		s = g.branch(s, "object")
		for _, k := range slices.Sorted(mapKeys(s.Properties)) {
			ps := s.Properties[k]
			if slices.Contains(s.Required, k) {
				out = append(out, func() { delete(v, k) })
			}
			for _, w := range append(append(g.wrongType(ps), nil), g.oversized(ps)...) {
				out = append(out, func() { v[k] = w })
			}
			if old, had := v[k]; had {
				out = append(out, g.bodyMutations(ps, old, func(nv any) { v[k] = nv })...)
			}
		}
		out = append(out, func() { v["zz_extra"] = 1 }, func() { v[""] = "x" })
	case []any:
		s = g.branch(s, "array")
		if len(v) > 0 {
			out = append(out, g.bodyMutations(s.Items, v[0], func(nv any) { v[0] = nv })...)
		}
		out = append(out, func() { set(append(v, nil)) }, func() { set([]any{}) })
	}
	return out
}

// branch is the alternative of a oneOf schema of the given type.
func (g *apiGen) branch(s *apiSchema, typ string) *apiSchema {
	for _, o := range s.OneOf {
		if o := g.fx.doc.schema(o); o.Type == typ {
			return o
		}
	}
	return s
}

// bodyCases send bodies derived from the schema, then broken ones.
func (g *apiGen) bodyCases() {
	for _, ct := range slices.Sorted(mapKeys(g.op.Bodies)) {
		s := g.op.Bodies[ct]
		isJSON := ct == ctJSON && s.Type != "string"
		for range 4 {
			if isJSON {
				g.add(&apiCase{what: "valid " + ct + " body", header: http.Header{"Content-Type": {ct}}, body: g.marshal(g.value(s, "", 0))})
			} else {
				g.add(&apiCase{what: "valid " + ct + " body", header: http.Header{"Content-Type": {ct}}, body: g.textBody(ct, s)})
			}
		}
		if !isJSON {
			continue
		}
		// Each mutation is applied to a fresh valid body.
		for range 40 {
			body := g.value(s, "", 0)
			muts := g.bodyMutations(s, body, func(nv any) { body = nv })
			if len(muts) == 0 {
				break
			}
			muts[g.rnd.IntN(len(muts))]()
			g.add(&apiCase{what: "mutated body", header: http.Header{"Content-Type": {ct}}, body: g.marshal(body)})
		}
		// Items in an array: one bad among good ones.
		if item := g.itemSchema(s); item != s {
			good := g.value(item, "", 0)
			bad := g.value(item, "", 0).(map[string]any)
			for _, k := range item.Required {
				delete(bad, k)
				break
			}
			g.add(&apiCase{what: "array with a bad item", header: http.Header{"Content-Type": {ct}}, body: g.marshal([]any{good, bad, good})})
		}
	}
	ct, valid := g.validBody()
	for _, raw := range []string{"", "null", "[]", "{}", `"str"`, "123", "[null]", "[[]]", "[1,2]", "{", "}", "[", "{\"a\":", "\xef\xbb\xbf{}",
		"{\"a\":\"\xff\xfe\"}", `{"a":1,"a":2}`, `{"a":NaN}`, `{"a":1e400}`, strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
		strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000), "\x00\x01\x02", "<xml/>", "a=b&c=d", "\n\n\n", "{}\n{}\n", "{} {}"} {
		g.add(&apiCase{what: "junk body", header: http.Header{"Content-Type": {ct}}, body: []byte(raw)})
	}
	if len(valid) > 2 {
		for _, cut := range []int{1, len(valid) / 2, len(valid) - 1} {
			g.add(&apiCase{what: "truncated body", header: http.Header{"Content-Type": {ct}}, body: valid[:cut]})
		}
	}
	for _, wrong := range []string{"", "text/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", "text/plain; version=0.0.5",
		"application/x-protobuf", "application/json; charset=utf-8", "APPLICATION/JSON", "application/jsonx", "application/problem+json", "application/json; charset=utf-16",
		"application/x-ndjson", ";;;", "ünï/cødé"} {
		h := http.Header{"Content-Type": {wrong}}
		g.add(&apiCase{what: "content type", header: h, body: valid})
	}
	big := append(append([]byte(`{"x":"`), bytes.Repeat([]byte("x"), apiFuzzBodyLimit+10)...), '"', '}')
	g.add(&apiCase{what: "body over the limit", header: http.Header{"Content-Type": {ct}}, body: big})
}

// headerCases vary the documented header parameters.
func (g *apiGen) headerCases() {
	for _, p := range g.op.Params {
		if p.In != "header" {
			continue
		}
		for _, v := range []string{`"1"`, `"2"`, `"999999"`, "1", "*", `W/"1"`, `""`, "garbage", `"-1"`, `"9223372036854775808"`, "ünï"} {
			c := g.base("header "+p.Name, "")
			c.header = http.Header{p.Name: {v}}
			g.add(c)
		}
	}
}

// cases makes an operation's requests, at most apiFuzzCases of them.
func (g *apiGen) cases() []*apiCase {
	if len(g.op.Bodies) > 0 {
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
	if len(out) > apiFuzzCases {
		// Keep the first cases (valid bodies and baselines), sample the rest.
		head := out[:10]
		rest := slices.Clone(out[10:])
		g.rnd.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		out = append(slices.Clone(head), rest[:apiFuzzCases-10]...)
	}
	return out
}

// --- answers --------------------------------------------------------------

type apiAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (a apiAnswer) String() string {
	return fmt.Sprintf("%d %s %s", a.status, a.header.Get("Content-Type"), clip(string(a.body), 600))
}

var apiClient = &http.Client{Timeout: 20 * time.Second}

func (fx *apiFixture) send(c *apiCase) (apiAnswer, error) {
	if c.upgrade {
		return fx.dial(c)
	}
	var body io.Reader = http.NoBody
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequest(c.op.Method, fx.srv.base, body)
	if err != nil {
		return apiAnswer{}, err
	}
	// The path and query go out exactly as made, escapes and all.
	req.URL.Opaque, req.URL.RawQuery = c.path, c.queryString()
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return apiAnswer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return apiAnswer{status: resp.StatusCode, header: resp.Header, body: raw}, err
}

func (fx *apiFixture) dial(c *apiCase) (apiAnswer, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(fx.srv.base, "http")+c.target(), c.header)
	if resp == nil {
		return apiAnswer{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if conn != nil {
		conn.Close()
	}
	return apiAnswer{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// statusCodes are the error codes each status may carry.
var statusCodes = map[int][]string{
	400: {"invalid_json", "validation_failed", "invalid_parameter"},
	401: {"unauthorized"},
	404: {"not_found"},
	409: {"conflict"},
	412: {"precondition_failed"},
	413: {"payload_too_large"},
	415: {"unsupported_media_type"},
	426: {"upgrade_required"},
	501: {"not_implemented"},
	503: {"unavailable"},
}

// check lists what is wrong with an answer, by what the document says.
func (fx *apiFixture) check(c *apiCase, a apiAnswer) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	op := c.op
	if a.status >= 500 {
		bad("answered %d: the server failed on this request", a.status)
	}
	if _, ok := op.Responses[a.status]; !ok {
		bad("status %d is not documented for %s (documented: %v)", a.status, op, slices.Sorted(intKeys(op.Responses)))
	}
	mediaType, _, _ := mime.ParseMediaType(a.header.Get("Content-Type"))
	if a.status >= 400 {
		fx.checkError(c, a, mediaType, bad)
		return problems
	}
	if _, refusable := op.Responses[400]; refusable && a.status < 300 {
		if name, ok := c.unknownParam(); ok {
			bad("unknown parameter %q was accepted; the document says unknown parameters are a 400 naming the parameter", name)
		}
	}
	if a.status == http.StatusNoContent || a.status == http.StatusSwitchingProtocols {
		if len(a.body) > 0 {
			bad("a %d answer has a body", a.status)
		}
		return problems
	}
	if documented := op.Responses[a.status]; len(documented) > 0 && !slices.Contains(documented, mediaType) {
		bad("content type %q is not documented for %d (documented: %v)", mediaType, a.status, documented)
	}
	switch {
	case mediaType == "application/json":
		if !json.Valid(a.body) {
			bad("the %d JSON body does not parse", a.status)
		}
	case mediaType == "application/x-ndjson":
		for i, line := range bytes.Split(bytes.TrimRight(a.body, "\n"), []byte("\n")) {
			if len(line) > 0 && !json.Valid(line) {
				bad("line %d of the NDJSON body does not parse", i+1)
				break
			}
		}
	case mediaType == "text/csv":
		if _, err := csv.NewReader(bytes.NewReader(a.body)).ReadAll(); err != nil {
			bad("the CSV body does not parse: %v", err)
		}
	}
	return problems
}

func intKeys[V any](m map[int]V) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// unknownParam is a query parameter the request has that the operation
// does not document, if any.
func (c *apiCase) unknownParam() (string, bool) {
	for name := range c.queryNames() {
		if name != "api_key" && c.op.param(name) == nil {
			return name, true
		}
	}
	return "", false
}

// checkError checks the body of an error answer against the Error schema.
func (fx *apiFixture) checkError(c *apiCase, a apiAnswer, mediaType string, bad func(string, ...any)) {
	if mediaType != "application/json" {
		bad("a %d answer is %q, not an application/json error", a.status, mediaType)
	}
	var e struct {
		Error *struct {
			Code    *string           `json:"code"`
			Message *string           `json:"message"`
			Details []json.RawMessage `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(a.body, &e); err != nil || e.Error == nil {
		bad("the error body is not {\"error\":{...}}: %v", err)
		return
	}
	if e.Error.Code == nil || e.Error.Message == nil {
		bad("the error has no code or no message")
		return
	}
	code := *e.Error.Code
	if !slices.Contains(fx.doc.errorCodes(), code) {
		bad("error code %q is not among the documented codes %v", code, fx.doc.errorCodes())
	}
	if want := statusCodes[a.status]; want != nil && !slices.Contains(want, code) {
		bad("error code %q does not fit status %d (want one of %v)", code, a.status, want)
	}
	if *e.Error.Message == "" {
		bad("the error message is empty")
	}
	sent := c.queryNames()
	for _, p := range c.op.pathParams() {
		sent[p.Name] = true
	}
	for k := range c.header {
		sent[k] = true
	}
	for i, raw := range e.Error.Details {
		var d struct {
			Parameter *string `json:"parameter"`
			Field     *string `json:"field"`
			Reason    *string `json:"reason"`
		}
		if err := json.Unmarshal(raw, &d); err != nil || d.Reason == nil || (d.Parameter == nil) == (d.Field == nil) {
			bad("details[%d] is neither a ParamError nor a FieldError: %s", i, raw)
			continue
		}
		if code == "invalid_parameter" {
			if d.Parameter == nil {
				bad("details[%d] of an invalid_parameter error names no parameter: %s", i, raw)
				continue
			}
			if !sent[*d.Parameter] && !fx.requiredParam(c.op, *d.Parameter) {
				bad("details[%d] names parameter %q, which the request does not have and the operation does not require", i, *d.Parameter)
			}
		}
	}
	if (code == "invalid_parameter" || code == "validation_failed") && len(e.Error.Details) == 0 {
		bad("a %s error has no details naming what is wrong", code)
	}
}

// requiredParam reports whether the operation documents name as required,
// always or for some values of another parameter.
func (fx *apiFixture) requiredParam(op *apiOperation, name string) bool {
	p := op.param(name)
	return p != nil && (p.Required || strings.Contains(p.Description, "required"))
}

// run sends one case and reports what is wrong with its answer. It
// returns the answer's status, 0 when there was none.
func (fx *apiFixture) run(t testing.TB, c *apiCase) (int, bool) {
	t.Helper()
	a, err := fx.send(c)
	if err != nil {
		t.Errorf("%s\n  no answer: %v", c, err)
		return 0, false
	}
	problems := fx.check(c, a)
	if len(problems) > 0 {
		t.Errorf("%s\n  answer: %s\n  wrong: %s", c, a, strings.Join(problems, "; "))
		return a.status, false
	}
	return a.status, true
}

// TestAPIFuzzFromOpenAPI sends every documented operation valid-looking
// and hostile requests made from the OpenAPI document, and checks each
// answer against the document.
func TestAPIFuzzFromOpenAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("sends a few thousand requests")
	}
	start := time.Now()
	fx := startAPIFixture(t)
	total, failed := 0, 0
	for _, op := range fx.doc.operations(t) {
		cases := newAPIGen(fx, op).cases()
		// Slashes would make levels of subtests for -run.
		t.Run(op.Method+strings.ReplaceAll(op.Path, "/", "_"), func(t *testing.T) {
			statuses := map[int]int{}
			for _, c := range cases {
				status, ok := fx.run(t, c)
				statuses[status]++
				total++
				if !ok {
					failed++
				}
			}
			t.Logf("%s: %d cases, answers by status %v", op, len(cases), statuses)
		})
	}
	t.Logf("%d cases, %d wrong answers, in %s", total, failed, time.Since(start).Round(time.Millisecond))
}

// --- native fuzzing -------------------------------------------------------

// apiFuzzRoutes are the GET routes FuzzAPI sends fuzzed query strings to.
var apiFuzzRoutes = []struct{ op, path string }{
	{"/v1/tasks", "/v1/tasks"},
	{"/v1/tasks/{id}/events", "/v1/tasks/fz-task-1/events"},
	{"/v1/tasks/{id}/logs", "/v1/tasks/fz-task-1/logs"},
	{"/v1/logs", "/v1/logs"},
	{"/v1/metrics/series", "/v1/metrics/series"},
	{"/v1/stats/overview", "/v1/stats/overview"},
	{"/v1/charts/{kind}", "/v1/charts/line"},
	{"/v1/charts/{kind}", "/v1/charts/heatmap"},
	{"/v1/charts/{kind}", "/v1/charts/pie"},
	{"/v1/charts/{kind}", "/v1/charts/gauge"},
	{"/v1/export", "/v1/export"},
	{"/v1/notifications", "/v1/notifications"},
}

// FuzzAPI sends fuzzed query strings to the query routes of a seeded
// server, seeded from the cases TestAPIFuzzFromOpenAPI makes, and checks
// answers as that test does.
func FuzzAPI(f *testing.F) {
	fx := startAPIFixture(f)
	ops := map[string]*apiOperation{}
	for _, op := range fx.doc.operations(f) {
		if op.Method == http.MethodGet {
			ops[op.Path] = op
		}
	}
	for i, r := range apiFuzzRoutes {
		op := ops[r.op]
		require.NotNil(f, op, "%s is not documented", r.op)
		cases := newAPIGen(fx, op).cases()
		n := 0
		for _, c := range cases {
			if c.body != nil || c.upgrade || c.header.Get("Authorization") != "Bearer "+apiFuzzKey || strings.HasPrefix(c.what, "path ") {
				continue
			}
			f.Add(uint8(i), c.queryString())
			if n++; n == 15 {
				break
			}
		}
		f.Add(uint8(i), "")
	}
	f.Fuzz(func(t *testing.T, route uint8, query string) {
		r := apiFuzzRoutes[int(route)%len(apiFuzzRoutes)]
		c := &apiCase{op: ops[r.op], what: "fuzzed query", path: r.path, rawQuery: escapeRawQuery(query),
			header: http.Header{"Authorization": {"Bearer " + apiFuzzKey}}}
		fx.run(t, c)
	})
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
