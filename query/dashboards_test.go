package query_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDashboardsCRUD(t *testing.T) {
	a := startAPI(t, allDeps(openStore(t)))
	const def = `{"title":"Jobs","panels":[
		{"title":"Latency","chart":"line","query":{"name":"job_seconds","agg":"p95","match":["region=eu","host=~a.*"],"step":60000}},
		{"title":"By status","chart":"pie","query":{}}]}`

	created := a.do(t, http.MethodPost, "/v1/dashboards", def)
	require.Equal(t, http.StatusCreated, created.status, string(created.raw))
	id := created.body["id"].(string)
	require.NotEmpty(t, id)
	require.Equal(t, float64(1), created.body["version"])
	require.Equal(t, `"1"`, created.header.Get("ETag"))
	require.Equal(t, "/v1/dashboards/"+id, created.header.Get("Location"))
	panels := created.body["panels"].([]any)
	require.Equal(t, map[string]any{"name": "job_seconds", "agg": "p95", "match": []any{"region=eu", "host=~a.*"}, "step": "60000"},
		panels[0].(map[string]any)["query"], "a parameter given once reads back as a string")

	got := a.get(t, "/v1/dashboards/"+id)
	require.Equal(t, http.StatusOK, got.status)
	require.Equal(t, "Jobs", got.body["title"])

	updated := a.do(t, http.MethodPut, "/v1/dashboards/"+id, `{"title":"Jobs (EU)","panels":[]}`)
	require.Equal(t, http.StatusOK, updated.status, string(updated.raw))
	require.Equal(t, float64(2), updated.body["version"])
	require.Equal(t, created.body["created_at"], updated.body["created_at"])
	require.Empty(t, updated.body["panels"])

	stale := a.do(t, http.MethodPut, "/v1/dashboards/"+id, `{"title":"Mine"}`, "If-Match", `"1"`)
	require.Equal(t, http.StatusPreconditionFailed, stale.status, string(stale.raw))
	require.Equal(t, "precondition_failed", stale.body["error"].(map[string]any)["code"])
	current := a.do(t, http.MethodPut, "/v1/dashboards/"+id, `{"title":"Mine"}`, "If-Match", `"2"`)
	require.Equal(t, http.StatusOK, current.status, string(current.raw))
	require.Equal(t, float64(3), current.body["version"])

	second := a.do(t, http.MethodPost, "/v1/dashboards", `{"title":"Alpha"}`)
	require.Equal(t, http.StatusCreated, second.status)
	list := a.get(t, "/v1/dashboards")
	require.Equal(t, http.StatusOK, list.status)
	titles := []any{}
	for _, d := range list.body["dashboards"].([]any) {
		titles = append(titles, d.(map[string]any)["title"])
	}
	require.Equal(t, []any{"Alpha", "Mine"}, titles, "listed by title")

	require.Equal(t, http.StatusNoContent, a.do(t, http.MethodDelete, "/v1/dashboards/"+id, "").status)
	require.Equal(t, http.StatusNotFound, a.get(t, "/v1/dashboards/"+id).status)
	require.Equal(t, http.StatusNotFound, a.do(t, http.MethodDelete, "/v1/dashboards/"+id, "").status)
	require.Equal(t, http.StatusNotFound, a.do(t, http.MethodPut, "/v1/dashboards/nope", `{"title":"x"}`).status)
}

func TestDashboardValidationNamesEveryField(t *testing.T) {
	a := startAPI(t, allDeps(openStore(t)))
	f := func(body string, wantCode string, wantFields ...string) {
		t.Helper()
		r := a.do(t, http.MethodPost, "/v1/dashboards", body)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", body, r.raw)
		require.Equal(t, wantCode, r.body["error"].(map[string]any)["code"], body)
		var fields []string
		for _, d := range errorDetails(t, r) {
			fields = append(fields, d["field"].(string))
			require.NotEmpty(t, d["reason"])
		}
		require.Equal(t, wantFields, fields, body)
	}
	const bad = "validation_failed"
	f(`{}`, bad, "title")
	f(`{"title":"  "}`, bad, "title")
	f(`{"title":"t","panels":[{"title":"p","chart":"donut"}]}`, bad, "panels[0].chart")
	f(`{"title":"t","panels":[{"title":"p"}]}`, bad, "panels[0].chart")
	f(`{"title":"t","panels":[{"title":"ok","chart":"pie"},{"chart":"line","query":{"name":"m"}}]}`, bad, "panels[1].title")
	f(`{"title":"t","panels":[{"title":"p","chart":"line","query":{"name":"m","agg":"median"}}]}`, bad, "panels[0].query.agg")
	f(`{"title":"t","panels":[{"title":"p","chart":"line","query":{"name":"m","colour":"red"}}]}`, bad, "panels[0].query.colour")
	f(`{"title":"t","panels":[{"title":"p","chart":"pie","query":{"source":"metric"}}]}`, bad, "panels[0].query.source")
	f(`{"title":"t","panels":[{"title":"p","chart":"line","query":{"name":{"a":1}}}]}`, bad, "panels[0].query.name")
	f(`{"title":"t","owner":"me"}`, bad, "owner")
	f(`{"title":7}`, bad, "title")
	f(`{"title":"t"} {}`, "invalid_json", "body")
	f(`{"title":`, "invalid_json", "body")

	r := a.do(t, http.MethodPost, "/v1/dashboards", "title=t", "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusUnsupportedMediaType, r.status)
}

func TestDashboardBodiesAreStrictAndBounded(t *testing.T) {
	a := startAPI(t, allDeps(openStore(t)))
	f := func(body string, wantField, wantReason string) {
		t.Helper()
		r := a.do(t, http.MethodPost, "/v1/dashboards", body)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", clipBody(body), r.raw)
		require.Equal(t, "validation_failed", r.body["error"].(map[string]any)["code"], clipBody(body))
		d := errorDetails(t, r)
		require.Len(t, d, 1, "%s", r.raw)
		require.Equal(t, wantField, d[0]["field"], "%s: %s", clipBody(body), r.raw)
		require.Contains(t, d[0]["reason"], wantReason, clipBody(body))
	}
	panel := func(query string) string {
		return `{"title":"t","panels":[{"title":"p","chart":"gauge","query":{` + query + `}}]}`
	}

	// Key names are matched exactly; encoding/json would take these.
	f(`{"Title":"t"}`, "Title", "is not a known field")
	f(`{"title":"t","panels":[{"title":"p","ſhart":"pie"}]}`, "panels[0].ſhart", "is not a known field")

	// Text that is not UTF-8 is refused where it is, never replaced.
	f("{\"title\":\"a\xffb\"}", "title", "UTF-8")
	f(`{"title":"a\ud800b"}`, "title", "UTF-8")
	f("{\"ti\xfftle\":\"t\"}", "ti\uFFFDtle", "member name")
	f(`{"title":"t","panels":[{"title":"\udc00","chart":"pie"}]}`, "panels[0].title", "UTF-8")
	f(panel(`"name":"m","match":["a=b","a=\ud83d"]`), "panels[0].query.match[1]", "UTF-8")

	// Everything a dashboard holds is bounded.
	f(`{"title":"`+strings.Repeat("é", 201)+`"}`, "title", "at most 200 characters")
	f(`{"title":"t","panels":[`+strings.Repeat(`{"title":"p","chart":"pie"},`, 100)+`{"title":"p","chart":"pie"}]}`, "panels", "at most 100 panels")
	f(panel(`"name":"m","unit":"`+strings.Repeat("x", 1<<20)+`"`), "panels[0].query.unit", "at most")
	f(panel(`"name":"`+strings.Repeat("m", 513)+`"`), "panels[0].query.name", "512 bytes")
	many := make([]string, 17)
	for i := range many {
		many[i] = fmt.Sprintf(`"p%d":"x"`, i)
	}
	f(panel(strings.Join(many, ",")), "panels[0].query", "at most 16 parameters")
	f(panel(`"name":"m","match":[`+strings.Repeat(`"a=b",`, 16)+`"a=b"]`), "panels[0].query.match", "at most 16 times")
	f(panel(`"name":"m","match":["k=~`+strings.Repeat("v", 4097)+`"]`), "panels[0].query.match", "4096 bytes")
	f(panel(`"name":"m","match":[]`), "panels[0].query.match", "empty list")
	f(panel(`"name":"m","unit":null`), "panels[0].query.unit", "must be a string")
	f(panel(`"name":"m","unit":""`), "panels[0].query.unit", "must not be empty")

	// A surrogate pair is one character, and a panel at the bounds saves.
	ok := a.do(t, http.MethodPost, "/v1/dashboards", `{"title":"\ud83d\ude00 `+strings.Repeat("é", 198)+`","panels":[{"title":"p","chart":"gauge","query":{"name":"m","match":["a=\u00e9"],"unit":"ms"}}]}`)
	require.Equal(t, http.StatusCreated, ok.status, string(ok.raw))
	require.Equal(t, "😀 "+strings.Repeat("é", 198), ok.body["title"])
}

func clipBody(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// TestDashboardIfMatchAcrossReplicas races updates that carry the same
// If-Match through two query services on one store, as two replicas
// would: the store lets exactly one apply, and the other is a 412.
func TestDashboardIfMatchAcrossReplicas(t *testing.T) {
	st := openStore(t)
	replicas := []*api{startAPI(t, allDeps(st)), startAPI(t, allDeps(st))}
	created := replicas[0].do(t, http.MethodPost, "/v1/dashboards", `{"title":"Shared"}`)
	require.Equal(t, http.StatusCreated, created.status, string(created.raw))
	path, etag := "/v1/dashboards/"+created.body["id"].(string), created.header.Get("ETag")
	for round := range 5 {
		var (
			start  = make(chan struct{})
			wg     sync.WaitGroup
			status [2]int
			etags  [2]string
		)
		for i, a := range replicas {
			wg.Go(func() {
				<-start
				r := a.do(t, http.MethodPut, path, fmt.Sprintf(`{"title":"round %d replica %d"}`, round, i), "If-Match", etag)
				status[i], etags[i] = r.status, r.header.Get("ETag")
			})
		}
		close(start)
		wg.Wait()
		require.ElementsMatch(t, []int{http.StatusOK, http.StatusPreconditionFailed}, status[:], "round %d", round)
		if status[0] == http.StatusOK {
			etag = etags[0]
		} else {
			etag = etags[1]
		}
	}
	require.Equal(t, `"6"`, etag)

	stale := replicas[1].do(t, http.MethodDelete, path, "", "If-Match", `"5"`)
	require.Equal(t, http.StatusPreconditionFailed, stale.status, string(stale.raw))
	require.Equal(t, http.StatusNoContent, replicas[1].do(t, http.MethodDelete, path, "", "If-Match", etag).status)
	require.Equal(t, http.StatusNotFound, replicas[0].get(t, path).status)
}
