package query_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/query"
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

func TestMissingReadersAnswerNotImplemented(t *testing.T) {
	a := startAPI(t, query.Deps{Store: openStore(t)})
	for _, path := range []string{"/v1/logs", "/v1/tasks/t1/logs", "/v1/metrics/series?name=m", "/v1/stats/overview",
		"/v1/charts/pie", "/v1/charts/line?name=m", "/v1/dashboards", "/v1/export?what=logs", "/v1/export?what=series&name=m"} {
		r := a.get(t, path)
		require.Equal(t, http.StatusNotImplemented, r.status, "%s: %s", path, r.raw)
		require.Equal(t, "not_implemented", r.body["error"].(map[string]any)["code"], path)
	}
	require.Equal(t, http.StatusOK, a.get(t, "/v1/charts/scatter").status, "task durations need only the task store")
	require.Equal(t, http.StatusOK, a.get(t, "/v1/export?what=tasks").status)
}
