package query_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

func TestTaskMetricsListsWhatTheTaskReported(t *testing.T) {
	st := openStore(t)
	s := func(task, name string, ts int64, v float64) schema.Metric {
		return schema.Metric{Name: name, Kind: schema.KindGauge, Unit: "rows", TaskID: task, Timestamp: ts, Value: v}
	}
	theirs := s("job-1", "stolen", t0, 1)
	theirs.Tenant = "other"
	insertMetrics(t, st,
		s("job-1", "rows_done", t0, 10), s("job-1", "rows_done", t0+30_000, 30), s("job-1", "rows_done", t0+minute, 50),
		s("job-1", "batch_ms", t0+1_000, 7),
		s("job-2", "rows_done", t0, 1000), // another task's samples of the same metric
		s("", "rows_done", t0+1, 2000),
		theirs,
	)
	a := startAPI(t, allDeps(st))

	r := a.get(t, "/v1/tasks/job-1/metrics")
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, []any{
		map[string]any{"name": "batch_ms", "kind": "gauge", "unit": "rows", "samples": 1.0, "first": float64(t0 + 1_000), "last": float64(t0 + 1_000)},
		map[string]any{"name": "rows_done", "kind": "gauge", "unit": "rows", "samples": 3.0, "first": float64(t0), "last": float64(t0 + minute)},
	}, r.body["metrics"])

	r = a.get(t, "/v1/tasks/job-1/metrics?limit=1")
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Len(t, r.body["metrics"], 1)

	r = a.get(t, "/v1/tasks/nobody/metrics")
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, `{"metrics":[]}`, string(r.raw), "an unknown task has none, as an array")

	// The series of the task count its samples only, on the rollup's
	// whole minutes as on raw buckets.
	for _, step := range []string{"1m", "30s"} {
		r = a.get(t, fmt.Sprintf("/v1/metrics/series?name=rows_done&task_id=job-1&agg=sum&from=%d&to=%d&step=%s", t0, t0+2*minute, step))
		want := []any{40.0, 50.0}
		if step == "30s" {
			want = []any{10.0, 30.0, 50.0, nil}
		}
		require.Equal(t, want, seriesValues(t, r), step)
	}
	r = a.get(t, fmt.Sprintf("/v1/charts/line?name=rows_done&task_id=job-2&agg=max&from=%d&to=%d&step=1m", t0, t0+2*minute))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Contains(t, string(r.raw), "1000")
	require.NotContains(t, string(r.raw), "2000")
	r = a.get(t, fmt.Sprintf("/v1/export?what=series&format=csv&name=rows_done&task_id=job-2&agg=max&from=%d&to=%d&step=1m", t0, t0+2*minute))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Contains(t, string(r.raw), "1000")
	require.NotContains(t, string(r.raw), "2000")
}

func TestTaskMetricsParameters(t *testing.T) {
	a := startAPI(t, allDeps(openStore(t)))
	f := func(path, field string) {
		t.Helper()
		r := a.get(t, path)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", path, r.raw)
		details := errorDetails(t, r)
		require.NotEmpty(t, details, path)
		require.Equal(t, field, details[0]["parameter"], "%s: %s", path, r.raw)
	}
	f("/v1/tasks/job-1/metrics?limit=0", "limit")
	f("/v1/tasks/job-1/metrics?limit=1001", "limit")
	f("/v1/tasks/job-1/metrics?name=x", "name")
	f("/v1/tasks/"+url.PathEscape(" padded")+"/metrics", "id")
	bad := url.QueryEscape(" padded")
	f("/v1/metrics/series?name=m&task_id="+bad, "task_id")
	f("/v1/metrics/series?name=m&task_id="+strings.Repeat("x", 257), "task_id")
	f("/v1/metrics/series?name=m&task_id=a&task_id=b", "task_id")
	f("/v1/charts/line?name=m&task_id="+bad, "task_id")
	f("/v1/charts/pie?task_id=job-1", "task_id")
}
