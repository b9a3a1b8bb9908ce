package query_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

func chartStore() *memStore {
	m := newMemStore()
	m.series = []store.Series{
		{Labels: map[string]string{"host": "a"}, Points: []store.Point{{T: t0, V: 2}, {T: t0 + 2*minute, V: 4}}},
		{Labels: map[string]string{"host": "b"}, Points: []store.Point{{T: t0 + minute, V: 7}}},
	}
	m.stats = store.Stats{
		ByStatus:  map[schema.Status]int64{schema.StatusRunning: 3, schema.StatusFailed: 1},
		Intervals: []store.IntervalCounts{{T: t0 + minute, Started: 2, Completed: 1}},
		ErrorLogs: []store.Point{{T: t0, V: 5}},
	}
	task := func(id string, created, ended int64) store.Task {
		return store.Task{Tenant: "default", TaskID: id, TaskType: "build", Status: schema.StatusCompleted, CreatedAt: created, UpdatedAt: ended}
	}
	m.tasks = []store.Task{task("a", t0, t0+1500), task("b", t0, t0+3000), task("c", t0+minute, t0+minute+1100)}
	return m
}

// chart fetches a frame and returns its JSON re-encoded compactly, keys
// sorted, to compare with the documented shape.
func chart(t *testing.T, a *api, path string) string {
	t.Helper()
	r := a.get(t, path)
	require.Equal(t, http.StatusOK, r.status, "%s: %s", path, r.raw)
	b, err := json.Marshal(r.body)
	require.NoError(t, err)
	return string(b)
}

func TestEveryChartKindHasItsShape(t *testing.T) {
	a := startAPI(t, allDeps(chartStore()))
	window := fmt.Sprintf("from=%d&to=%d&step=1m", t0, t0+3*minute)
	times := fmt.Sprintf("[%d,%d,%d]", t0, t0+minute, t0+2*minute)
	metric := "name=cpu&group_by=host&" + window

	xy := `{"kind":"%s","series":[` +
		`{"labels":{"host":"a"},"name":"cpu{host=\"a\"}","values":[2,null,4]},` +
		`{"labels":{"host":"b"},"name":"cpu{host=\"b\"}","values":[null,7,null]}],` +
		`"x":{"type":"time","values":` + times + `}}`
	for _, kind := range []string{"line", "area", "bar"} {
		require.JSONEq(t, fmt.Sprintf(xy, kind), chart(t, a, "/v1/charts/"+kind+"?"+metric))
	}
	require.JSONEq(t, `{"kind":"line","x":{"type":"time","values":`+times+`},"series":[
		{"name":"started","labels":{},"values":[0,2,0]},
		{"name":"completed","labels":{},"values":[0,1,0]},
		{"name":"failed","labels":{},"values":[0,0,0]},
		{"name":"error_logs","labels":{},"values":[5,0,0]}]}`,
		chart(t, a, "/v1/charts/line?source=task_activity&"+window))

	require.JSONEq(t, `{"kind":"pie","slices":[{"label":"pending","value":0},{"label":"running","value":3},{"label":"paused","value":0},
		{"label":"completed","value":0},{"label":"failed","value":1},{"label":"cancelled","value":0}]}`,
		chart(t, a, "/v1/charts/pie"))
	require.JSONEq(t, `{"kind":"bar","x":{"type":"category","values":["pending","running","paused","completed","failed","cancelled"]},
		"series":[{"name":"tasks","labels":{},"values":[0,3,0,0,1,0]}]}`,
		chart(t, a, "/v1/charts/bar?source=tasks_by_status"))

	require.JSONEq(t, `{"kind":"gauge","value":4,"min":0,"max":4,"unit":""}`,
		chart(t, a, "/v1/charts/gauge?name=cpu&match=host%3Da&"+window), "the latest value; the scale tops at the range's peak")
	require.JSONEq(t, `{"kind":"gauge","value":4,"min":1,"max":10,"unit":"%"}`,
		chart(t, a, "/v1/charts/gauge?name=cpu&min=1&max=10&unit=%25&"+window))

	durations := fmt.Sprintf("from=%d&to=%d&step=1m", t0, t0+2*minute)
	require.JSONEq(t, fmt.Sprintf(`{"kind":"scatter","x":{"name":"ended_at","type":"time"},"y":{"name":"duration_ms","type":"number","unit":"ms"},
		"points":[{"x":%d,"y":1100,"id":"c"},{"x":%d,"y":3000,"id":"b"},{"x":%d,"y":1500,"id":"a"}],"truncated":false}`, t0+minute+1100, t0+3000, t0+1500),
		chart(t, a, "/v1/charts/scatter?"+durations))
	require.JSONEq(t, fmt.Sprintf(`{"kind":"heatmap","x":[%d,%d],"x_step":60000,"y":[1024,2048],"y_scale":"log2","y_unit":"ms",
		"counts":[[1,1],[1,0]],"truncated":false}`, t0, t0+minute),
		chart(t, a, "/v1/charts/heatmap?"+durations))

	require.JSONEq(t, `{"kind":"table","columns":[{"name":"time","type":"time"},{"name":"cpu{host=\"a\"}","type":"number"},{"name":"cpu{host=\"b\"}","type":"number"}],
		"rows":[[`+fmt.Sprint(t0)+`,2,null],[`+fmt.Sprint(t0+minute)+`,null,7],[`+fmt.Sprint(t0+2*minute)+`,4,null]],"truncated":false}`,
		chart(t, a, "/v1/charts/table?"+metric))
	require.JSONEq(t, `{"kind":"table","columns":[{"name":"label","type":"string"},{"name":"tasks","type":"number"}],
		"rows":[["pending",0],["running",3],["paused",0],["completed",0],["failed",1],["cancelled",0]],"truncated":false}`,
		chart(t, a, "/v1/charts/table?source=tasks_by_status"))
	require.JSONEq(t, fmt.Sprintf(`{"kind":"table","columns":[{"name":"task_id","type":"string"},{"name":"task_type","type":"string"},
		{"name":"status","type":"string"},{"name":"ended_at","type":"time"},{"name":"duration_ms","type":"number"}],
		"rows":[["c","build","completed",%d,1100],["b","build","completed",%d,3000],["a","build","completed",%d,1500]],"truncated":false}`,
		t0+minute+1100, t0+3000, t0+1500),
		chart(t, a, "/v1/charts/table?source=task_durations&"+durations))
}

func TestStatsOverviewAddsTheHeadlineFigures(t *testing.T) {
	m := chartStore()
	m.stats.Types = []store.TypeStats{
		{TaskType: "scrape", Finished: 10, Failed: 1},
		{TaskType: "build", Finished: 4, Failed: 3},
		{TaskType: "lint", Finished: 6},
	}
	a := startAPI(t, allDeps(m))
	r := a.get(t, fmt.Sprintf("/v1/stats/overview?from=%d&to=%d&step=1m", t0, t0+3*minute))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, float64(20), r.body["finished"])
	require.Equal(t, float64(4), r.body["failed"])
	require.InDelta(t, 0.2, r.body["failure_rate"], 1e-9)
	top := r.body["top_failing"].([]any)
	require.Len(t, top, 2, "types without failures are not failing")
	require.Equal(t, "build", top[0].(map[string]any)["task_type"])
	require.Len(t, r.body["intervals"], 3, "every bucket, zeros included")
	require.Len(t, r.body["error_logs"], 3)
	require.Equal(t, map[string]any{"running": 3.0, "failed": 1.0}, r.body["by_status"])
}
