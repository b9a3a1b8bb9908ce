package query_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store/duckdb"
	"github.com/taskpulse/taskpulse/schema"
)

// chartStore holds what the chart tests draw, over three one-minute
// buckets from t0, with task durations read over the first two:
//   - cpu of hosts a and b, besides samples every chart must leave out:
//     after the window, of another metric and of another tenant;
//   - build tasks a, b and c ending in the first two minutes; in the
//     third, failures of scrape and build and a lint task ending, and two
//     tasks still running; a task ended before the window and one of
//     another tenant;
//   - three ERROR or CRITICAL logs in the first minute and one in the
//     third, among logs that do not count.
func chartStore(t testing.TB) *duckdb.Store {
	t.Helper()
	st := openStore(t)
	cpu := func(host string, ts int64, v float64) schema.Metric {
		return schema.Metric{Name: "cpu", Timestamp: ts, Value: v, Labels: map[string]string{"host": host}}
	}
	stranger := cpu("a", t0+minute, 50)
	stranger.Tenant = "other"
	mem := cpu("a", t0+minute, 50)
	mem.Name = "mem"
	insertMetrics(t, st, cpu("a", t0, 2), cpu("a", t0+2*minute, 4), cpu("b", t0+minute, 7),
		cpu("a", t0+3*minute, 99), stranger, mem)

	const completed, failed, running = schema.StatusCompleted, schema.StatusFailed, schema.StatusRunning
	otherTenant := run("x", "build", t0+minute, failed, t0+minute+500)
	for i := range otherTenant {
		otherTenant[i].Tenant = "other"
	}
	insertProgress(t, st, slices.Concat(
		run("a", "build", t0, completed, t0+1500),
		run("b", "build", t0, completed, t0+3000),
		run("c", "build", t0+minute, completed, t0+minute+1100),
		run("d", "build", t0+minute+5000, running, 0),
		run("e", "scrape", t0+2*minute, failed, t0+2*minute+2000),
		run("f", "build", t0+2*minute+1000, failed, t0+2*minute+4000),
		run("g", "lint", t0+2*minute+100, completed, t0+2*minute+300),
		run("h", "scrape", t0+2*minute+30_000, running, 0),
		run("old", "build", t0-6*minute, completed, t0-5*minute),
		otherTenant,
	)...)

	log := func(level schema.Level, ts int64) schema.Log {
		return schema.Log{Level: level, Timestamp: ts, Message: string(level)}
	}
	strangerLog := log(schema.LevelError, t0+minute)
	strangerLog.Tenant = "other"
	insertLogs(t, st, log(schema.LevelError, t0), log(schema.LevelCritical, t0+10), log(schema.LevelError, t0+minute-1),
		log(schema.LevelWarning, t0+minute), log(schema.LevelInfo, t0+minute), strangerLog,
		log(schema.LevelError, t0+2*minute), log(schema.LevelError, t0-1), log(schema.LevelError, t0+3*minute))
	return st
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
	a := startAPI(t, allDeps(chartStore(t)))
	span := fmt.Sprintf("from=%d&to=%d", t0, t0+3*minute)
	window := span + "&step=1m"
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
		{"name":"started","labels":{},"values":[2,2,4]},
		{"name":"completed","labels":{},"values":[2,1,1]},
		{"name":"failed","labels":{},"values":[0,0,2]},
		{"name":"error_logs","labels":{},"values":[3,0,1]}]}`,
		chart(t, a, "/v1/charts/line?source=task_activity&"+window))

	require.JSONEq(t, `{"kind":"pie","slices":[{"label":"pending","value":0},{"label":"running","value":2},{"label":"paused","value":0},
		{"label":"completed","value":4},{"label":"failed","value":2},{"label":"cancelled","value":0}]}`,
		chart(t, a, "/v1/charts/pie?"+span))
	require.JSONEq(t, `{"kind":"bar","x":{"type":"category","values":["pending","running","paused","completed","failed","cancelled"]},
		"series":[{"name":"tasks","labels":{},"values":[0,2,0,4,2,0]}]}`,
		chart(t, a, "/v1/charts/bar?source=tasks_by_status&"+span))

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
		"rows":[["pending",0],["running",2],["paused",0],["completed",4],["failed",2],["cancelled",0]],"truncated":false}`,
		chart(t, a, "/v1/charts/table?source=tasks_by_status&"+span))
	require.JSONEq(t, fmt.Sprintf(`{"kind":"table","columns":[{"name":"task_id","type":"string"},{"name":"task_type","type":"string"},
		{"name":"status","type":"string"},{"name":"ended_at","type":"time"},{"name":"duration_ms","type":"number"}],
		"rows":[["c","build","completed",%d,1100],["b","build","completed",%d,3000],["a","build","completed",%d,1500]],"truncated":false}`,
		t0+minute+1100, t0+3000, t0+1500),
		chart(t, a, "/v1/charts/table?source=task_durations&"+durations))
}

func TestStatsOverviewAddsTheHeadlineFigures(t *testing.T) {
	a := startAPI(t, allDeps(chartStore(t)))
	// A minute longer than the charts' window, in which nothing but an
	// error log happened.
	r := a.get(t, fmt.Sprintf("/v1/stats/overview?from=%d&to=%d&step=1m", t0, t0+4*minute))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, float64(6), r.body["finished"], "build a, b, c, f; scrape e; lint g")
	require.Equal(t, float64(2), r.body["failed"])
	require.InDelta(t, 2.0/6, r.body["failure_rate"], 1e-9)
	var top []any
	for _, ts := range r.body["top_failing"].([]any) {
		top = append(top, ts.(map[string]any)["task_type"])
	}
	require.Equal(t, []any{"scrape", "build"}, top, "as many failures each, the higher rate first; lint has none, so is not failing")
	intervals := r.body["intervals"].([]any)
	require.Len(t, intervals, 4, "every bucket, zeros included")
	require.Equal(t, map[string]any{"t": float64(t0 + 3*minute), "started": 0.0, "completed": 0.0, "failed": 0.0}, intervals[3])
	require.Equal(t, []any{3.0, 0.0, 1.0, 1.0}, pointValues(r.body["error_logs"]), "every bucket, zeros included")
	require.Equal(t, map[string]any{"completed": 4.0, "running": 2.0, "failed": 2.0}, r.body["by_status"])
}

// pointValues lists the values of a JSON array of points.
func pointValues(points any) []any {
	var out []any
	for _, p := range points.([]any) {
		out = append(out, p.(map[string]any)["v"])
	}
	return out
}
