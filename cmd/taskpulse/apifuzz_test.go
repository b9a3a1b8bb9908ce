package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/apifuzz"
)

// The API fuzzer (internal/apifuzz) makes requests for every operation of
// the OpenAPI document the server serves and checks every answer against
// it. This file gives it a server seeded with a little of everything. It
// is deterministic: one fixed seed, and a bounded number of cases per
// operation.

const (
	apiFuzzSeed = 20260101
	// apiFuzzBodyLimit is the server's --body-limit, small enough that
	// a request over it is cheap to send.
	apiFuzzBodyLimit = 64 << 10
	apiFuzzKey       = "fuzz-key-0123456789"
	apiFuzzOtherKey  = "other-key-0123456789"
)

// apiFixture is a seeded server, its document, and what exists on it.
type apiFixture struct {
	srv    *server
	doc    *apifuzz.Document
	target apifuzz.Target
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
	srv := startServer(t, "--api-keys", apiFuzzKey+"=fuzz,"+apiFuzzOtherKey+"=other", "--alert-rules", rules,
		"--body-limit", strconv.Itoa(apiFuzzBodyLimit),
		// The fuzzer sends wrong keys by design; limiting its address
		// would leave every later request a 429.
		"--auth-failures-rate", "0")
	fx := &apiFixture{srv: srv, doc: fetchAPIDocument(t, srv), target: apifuzz.Target{
		BaseURL:   srv.base,
		Key:       apiFuzzKey,
		OtherKey:  apiFuzzOtherKey,
		BodyLimit: apiFuzzBodyLimit,
		IDs:       map[string][]string{},
		// Values name what is seeded below.
		Values: map[string][]string{
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
		},
		Metrics:  []string{"fz_metric", "fz_counter"},
		Channels: []string{"hook"},
	}}
	ids := fx.target.IDs

	now := time.Now().UnixMilli()
	progress := []string{
		`{"task_id":"fz-task-1","user_id":"fz-user","task_type":"fz_type","status":"running","progress":10,"seq":1,"attributes":{"region":"eu"}}`,
		`{"task_id":"fz-task-1","user_id":"fz-user","task_type":"fz_type","status":"running","progress":60,"seq":2,"current_step":"copy"}`,
		`{"task_id":"fz-task-2","user_id":"fz-user","task_type":"other_type","status":"completed","progress":100,"seq":1}`,
		`{"task_id":"fz-task-3","user_id":"fz-other","task_type":"fz_type","status":"running","progress":5,"seq":1}`,
		`{"task_id":"fz-task-3","user_id":"fz-other","task_type":"fz_type","status":"failed","progress":5,"seq":2,"error":"boom"}`,
	}
	fx.mustAnswer(t, http.MethodPost, "/v1/progress", progressBody(progress...), http.StatusAccepted)
	var logs, metrics []string
	for i, level := range []string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"} {
		logs = append(logs, fmt.Sprintf(`{"task_id":"fz-task-1","user_id":"fz-user","level":%q,"message":"step %d copied files","source":"worker","timestamp":%d,"attributes":{"region":"eu"}}`, level, i, now-int64(i)*60_000))
		metrics = append(metrics, fmt.Sprintf(`{"name":"fz_metric","value":%d,"timestamp":%d,"labels":{"region":"eu","host":"h%d"}}`, i*10, now-int64(i)*60_000, i%2))
		metrics = append(metrics, fmt.Sprintf(`{"name":"fz_counter","kind":"counter","value":%d,"timestamp":%d,"labels":{"region":"us"}}`, i*100, now-int64(i)*60_000))
	}
	fx.mustAnswer(t, http.MethodPost, "/v1/logs", "["+strings.Join(logs, ",")+"]", http.StatusAccepted)
	fx.mustAnswer(t, http.MethodPost, "/v1/metrics", "["+strings.Join(metrics, ",")+"]", http.StatusAccepted)
	srv.waitTask(t, apiFuzzKey, "fz-task-1", "running", 2)
	srv.waitTask(t, apiFuzzKey, "fz-task-3", "failed", 2)
	ids["/v1/tasks/{id}"] = []string{"fz-task-1", "fz-task-2", "fz-task-3"}
	ids["/v1/tasks/{id}/events"] = ids["/v1/tasks/{id}"]
	ids["/v1/tasks/{id}/logs"] = ids["/v1/tasks/{id}"]

	for i := range 2 {
		d := fx.mustAnswer(t, http.MethodPost, "/v1/dashboards",
			fmt.Sprintf(`{"title":"fz board %d","panels":[{"title":"depth","chart":"line","query":{"name":"fz_metric","agg":"max","group_by":"region"}},{"title":"states","chart":"pie"}]}`, i), http.StatusCreated)
		ids["/v1/dashboards/{id}"] = append(ids["/v1/dashboards/{id}"], fmt.Sprint(d["id"]))
	}
	for _, id := range []string{"fz-rule-1", "fz-rule-2", "fz-rule-3"} {
		fx.mustAnswer(t, http.MethodPost, "/v1/alert-rules",
			`{"id":"`+id+`","kind":"task_stalled","params":{"stalled_after":"1h"},"severity":"info"}`, http.StatusCreated)
		ids["/v1/alert-rules/{id}"] = append(ids["/v1/alert-rules/{id}"], id)
	}
	// The rule of the rules file is read-only through the API.
	ids["/v1/alert-rules/{id}"] = append(ids["/v1/alert-rules/{id}"], "file-failed")
	for range 3 {
		sl := fx.mustAnswer(t, http.MethodPost, "/v1/silences",
			`{"matchers":[{"name":"rule","op":"=","value":"fz-nothing"}],"duration":"1h","comment":"fuzz"}`, http.StatusCreated)
		ids["/v1/silences/{id}"] = append(ids["/v1/silences/{id}"], fmt.Sprint(sl["id"]))
	}
	// The failed fz_type task fires the file rule, which leaves a
	// notification to mark read.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && len(ids["/v1/notifications/{id}/read"]) == 0 {
		r := srv.get(t, apiFuzzKey, "/v1/notifications")
		if list, ok := r.body["notifications"].([]any); ok {
			for _, n := range list {
				ids["/v1/notifications/{id}/read"] = append(ids["/v1/notifications/{id}/read"], fmt.Sprint(n.(map[string]any)["id"]))
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NotEmpty(t, ids["/v1/notifications/{id}/read"], "the failed task never made a notification")
	return fx
}

func fetchAPIDocument(t testing.TB, srv *server) *apifuzz.Document {
	t.Helper()
	resp, err := http.Get(srv.base + "/openapi.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	doc, err := apifuzz.Load(raw)
	require.NoError(t, err)
	return doc
}

func (fx *apiFixture) mustAnswer(t testing.TB, method, path, body string, want int) map[string]any {
	t.Helper()
	r := fx.srv.do(t, method, path, apiFuzzKey, ctJSON, body)
	require.Equal(t, want, r.status, "%s %s %s: %v", method, path, body, r.body)
	return r.body
}

// run sends one case and fails t with what is wrong with its answer. It
// returns the answer's status, 0 when there was none.
func (fx *apiFixture) run(t testing.TB, c *apifuzz.Case) (int, bool) {
	t.Helper()
	r := apifuzz.Run(t.Context(), fx.target, c)
	switch {
	case r.Err != nil:
		t.Errorf("%s\n  no answer: %v", c, r.Err)
	case len(r.Problems) > 0:
		t.Errorf("%s\n  answer: %s\n  wrong: %s", c, r.Answer, strings.Join(r.Problems, "; "))
	}
	return r.Status, r.OK()
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
	for _, op := range fx.doc.Operations() {
		cases := apifuzz.NewGenerator(fx.target, op, apiFuzzSeed).Cases()
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
	ops := map[string]*apifuzz.Operation{}
	for _, op := range fx.doc.Operations() {
		if op.Method == http.MethodGet {
			ops[op.Path] = op
		}
	}
	for i, r := range apiFuzzRoutes {
		op := ops[r.op]
		require.NotNil(f, op, "%s is not documented", r.op)
		for _, q := range apifuzz.QuerySeeds(apifuzz.NewGenerator(fx.target, op, apiFuzzSeed).Cases(), 15) {
			f.Add(uint8(i), q)
		}
		f.Add(uint8(i), "")
	}
	f.Fuzz(func(t *testing.T, route uint8, query string) {
		r := apiFuzzRoutes[int(route)%len(apiFuzzRoutes)]
		fx.run(t, apifuzz.QueryCase(ops[r.op], r.path, query, fx.target))
	})
}
