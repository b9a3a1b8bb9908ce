package query_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEveryBadParameterIsNamed(t *testing.T) {
	a := startAPI(t, allDeps(openStore(t)))
	f := func(path, param string) {
		t.Helper()
		r := a.get(t, path)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", path, r.raw)
		require.Equal(t, "invalid_parameter", r.body["error"].(map[string]any)["code"], path)
		require.Equal(t, param, errorDetails(t, r)[0]["parameter"], "%s: %s", path, r.raw)
	}
	re := url.QueryEscape

	f("/v1/logs?level=LOUD", "level")
	f("/v1/logs?text_mode=fuzzy", "text_mode")
	f("/v1/logs?attr=region", "attr")
	f("/v1/logs?attr="+re("=eu"), "attr")
	f("/v1/logs?attr="+re("region=~(eu"), "attr")
	f("/v1/logs?since=yesterday", "since")
	f("/v1/logs?since=2000&until=1000", "until")
	f("/v1/logs?limit=0", "limit")
	f("/v1/logs?limit=5000", "limit")
	f("/v1/logs?cursor=nonsense", "cursor")
	f("/v1/logs?source=a&source=b", "source")
	f("/v1/logs?levle=ERROR", "levle")
	f("/v1/tasks/t1/logs?task_id=t2", "task_id")

	f("/v1/metrics/series", "name")
	f("/v1/metrics/series?name=m&agg=median", "agg")
	f("/v1/metrics/series?name=m&step=soon", "step")
	f("/v1/metrics/series?name=m&step=0", "step")
	f("/v1/metrics/series?name=m&from=1000&to=86401000&step=1s", "step")
	f("/v1/metrics/series?name=m&from=2000&to=1000", "to")
	f("/v1/metrics/series?name=m&from=later", "from")
	f("/v1/metrics/series?name=m&match="+re("host!~[z"), "match")
	f("/v1/metrics/series?name=m&group=host", "group")

	f("/v1/stats/overview?step=-5", "step")
	f("/v1/stats/overview?to=x", "to")
	f("/v1/stats/overview?name=m", "name")

	f("/v1/charts/donut", "kind")
	f("/v1/charts/line?source=weather", "source")
	f("/v1/charts/pie?source=metric&name=m", "source")
	f("/v1/charts/scatter?source=tasks_by_status", "source")
	f("/v1/charts/line?name=m&min=1", "min")
	f("/v1/charts/gauge?name=m&max=abc", "max")
	f("/v1/charts/gauge?name=m&min=5&max=1", "max")
	f("/v1/charts/line", "name")
	f("/v1/charts/heatmap?status=running", "status")
	f("/v1/charts/pie?step=1m", "step")

	f("/v1/export", "what")
	f("/v1/export?what=secrets", "what")
	f("/v1/export?what=tasks&format=xml", "format")
	f("/v1/export?what=tasks&format=csv&format=json", "format")
	f("/v1/export?what=tasks&level=ERROR", "level")
	f("/v1/export?what=logs&level=LOUD", "level")
	f("/v1/export?what=series", "name")

	f("/v1/dashboards?all=1", "all")
}

func TestQueryRefusesEmptyParametersOnEveryRoute(t *testing.T) {
	a := startAPI(t, allDeps(openStore(t)))
	for _, route := range []struct {
		path   string
		params []string
	}{
		{"/v1/tasks?", []string{"status", "user_id", "task_type", "updated_since", "updated_until", "limit"}},
		{"/v1/tasks/t1/events?", []string{"limit"}},
		{"/v1/tasks/t1/logs?", []string{"level", "user_id", "source", "text", "text_mode", "attr", "since", "until", "limit"}},
		{"/v1/logs?", []string{"level", "task_id", "user_id", "source", "text", "text_mode", "attr", "since", "until", "limit"}},
		{"/v1/metrics/series?", []string{"name"}},
		{"/v1/metrics/series?name=m&", []string{"match", "from", "to", "step", "agg", "group_by"}},
		{"/v1/stats/overview?", []string{"from", "to", "step"}},
		{"/v1/charts/gauge?name=m&", []string{"match", "agg", "group_by", "min", "max", "unit"}},
		{"/v1/charts/heatmap?", []string{"task_type", "user_id", "status", "step"}},
		{"/v1/export?what=tasks&", []string{"status", "user_id", "task_type"}},
		{"/v1/export?what=events&", []string{"task_id"}},
		{"/v1/export?what=logs&", []string{"level", "task_id", "text", "attr"}},
	} {
		for _, name := range route.params {
			path := route.path + name + "="
			r := a.get(t, path)
			require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", path, r.raw)
			require.Equal(t, name, errorDetails(t, r)[0]["parameter"], "%s: %s", path, r.raw)
		}
	}
	// An empty cursor is the first page, as an empty next_cursor is the
	// last: paging loops start and stop on "".
	require.Equal(t, http.StatusOK, a.get(t, "/v1/tasks?cursor=").status)
}

func TestQueryChecksIDsAndBoundsAsIngestDoes(t *testing.T) {
	a := startAPI(t, allDeps(openStore(t)))
	f := func(path, param, reason string) {
		t.Helper()
		r := a.get(t, path)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", path, r.raw)
		require.Equal(t, "invalid_parameter", r.body["error"].(map[string]any)["code"], path)
		d := errorDetails(t, r)[0]
		require.Equal(t, param, d["parameter"], "%s: %s", path, r.raw)
		require.Contains(t, d["reason"], reason, path)
	}
	re := url.QueryEscape
	long := strings.Repeat("x", 257)

	// Ids, in the path or a parameter, by the rule ingest applies.
	for _, p := range []string{"/v1/tasks/", "/v1/tasks/%s/events", "/v1/tasks/%s/logs"} {
		if !strings.Contains(p, "%s") {
			p += "%s"
		}
		f(fmt.Sprintf(p, long), "id", "256 bytes")
		f(fmt.Sprintf(p, "%20t1"), "id", "spaces")
		f(fmt.Sprintf(p, "t%0A1"), "id", "control characters")
	}
	f("/v1/logs?task_id="+long, "task_id", "256 bytes")
	f("/v1/logs?user_id="+re(" u"), "user_id", "spaces")
	f("/v1/tasks?user_id="+long, "user_id", "256 bytes")
	f("/v1/tasks?task_type="+strings.Repeat("y", 513), "task_type", "512 bytes")
	f("/v1/logs?source="+strings.Repeat("y", 513), "source", "512 bytes")
	f("/v1/charts/heatmap?user_id="+long, "user_id", "256 bytes")
	f("/v1/export?what=events&task_id=t1,"+long, "task_id", "256 bytes")
	f("/v1/export?what=logs&task_id="+re("t\x01"), "task_id", "control characters")
	f("/v1/metrics/series?name="+re("no spaces"), "name", "[a-zA-Z_:]")

	// Text searches, matchers and lists.
	f("/v1/logs?text="+strings.Repeat("z", 1025), "text", "1024 bytes")
	f("/v1/logs?text="+re(strings.Repeat("w ", 33)), "text", "32 words")
	f("/v1/logs?"+strings.Repeat("attr=a%3Db&", 16)+"attr=a%3Db", "attr", "at most 16")
	f("/v1/logs?attr="+strings.Repeat("k", 129)+"%3Dv", "attr", "128 bytes")
	f("/v1/tasks?status="+re("running,,failed"), "status", "empty items")
	f("/v1/metrics/series?name=m&group_by="+strings.Repeat("l,", 64)+"l", "group_by", "at most 64 labels")

	// Ids ingest accepts are looked up, however odd.
	for _, id := range []string{strings.Repeat("x", 256), "ünï ✓", "a%2Fb"} {
		r := a.get(t, "/v1/tasks/"+id)
		require.Equal(t, http.StatusNotFound, r.status, "%s: %s", id, r.raw)
	}
	require.Equal(t, http.StatusOK, a.get(t, "/v1/tasks/"+strings.Repeat("x", 256)+"/logs").status)
}

// Query parameters are read by httpx.Query: the same wording for the
// same mistake on every route.
func TestParameterReasons(t *testing.T) {
	a := startAPI(t, allDeps(openStore(t)))
	f := func(path, param, reason string) {
		t.Helper()
		r := a.get(t, path)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", path, r.raw)
		d := errorDetails(t, r)[0]
		require.Equal(t, param, d["parameter"], "%s: %s", path, r.raw)
		require.Equal(t, reason, d["reason"], path)
	}
	f("/v1/dashboards?all=1", "all", "is not a known parameter (this endpoint takes none)")
	f("/v1/tasks?b=1&a=1", "a", "is not a known parameter (known: status, user_id, task_type, updated_since, updated_until, limit, cursor)")
	f("/v1/tasks?user_id=", "user_id", "must not be empty (leave it out instead)")
	f("/v1/tasks?limit=0", "limit", "must be an integer from 1 to 1000")
	f("/v1/tasks?cursor=x", "cursor", "is not a cursor this API returned")
}
