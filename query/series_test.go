package query_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
)

// t0 is a whole minute, so that minute steps do not move it.
const t0 = int64(1_699_999_980_000)

const minute = int64(60_000)

func seriesValues(t *testing.T, r reply) []any {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	series := r.body["series"].([]any)
	require.Len(t, series, 1)
	var out []any
	for _, p := range series[0].(map[string]any)["points"].([]any) {
		out = append(out, p.(map[string]any)["v"])
	}
	return out
}

func TestSeriesAnswersEveryBucket(t *testing.T) {
	m := newMemStore()
	m.series = []store.Series{{Labels: map[string]string{"host": "a"}, Points: []store.Point{{T: t0, V: 1}, {T: t0 + 2*minute, V: 3}}}}
	a := startAPI(t, allDeps(m))

	r := a.get(t, fmt.Sprintf("/v1/metrics/series?name=m&group_by=host&from=%d&to=%d&step=1m", t0, t0+5*minute))
	require.Equal(t, []any{1.0, nil, 3.0, nil, nil}, seriesValues(t, r), "empty buckets are null, not missing")
	points := r.body["series"].([]any)[0].(map[string]any)["points"].([]any)
	require.Equal(t, float64(t0+minute), points[1].(map[string]any)["t"])
	q := m.queries[len(m.queries)-1]
	require.Equal(t, store.SeriesQuery{Tenant: "default", Name: "m", From: t0, To: t0 + 5*minute, Step: minute, Agg: store.AggAvg, GroupBy: []string{"host"}}, q)
}

func TestSeriesChoosesAStep(t *testing.T) {
	m := newMemStore()
	a := startAPI(t, allDeps(m))
	f := func(from, to, wantStep int64) {
		t.Helper()
		r := a.get(t, fmt.Sprintf("/v1/metrics/series?name=m&from=%d&to=%d", from, to))
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		q := m.queries[len(m.queries)-1]
		require.Equal(t, wantStep, q.Step)
		if q.Step%store.RollupStep == 0 {
			require.Zero(t, q.From%q.Step, "a minute step aligns from, so the store reads its rollup")
		}
		require.LessOrEqual(t, (q.To-q.From)/q.Step, int64(121))
	}
	f(t0, t0+60*minute, 30_000)              // an hour: 30 s
	f(t0, t0+60_000, 1_000)                  // a minute: never under a second
	f(t0+7_000, t0+24*60*minute, 900_000)    // a day: 15 min, aligned
	f(t0, t0+30*24*60*minute, 21_600_000)    // a month: 6 h
	f(t0, t0+400*24*60*minute, 4*86_400_000) // beyond: whole days
}

func TestRateHandlesCounterResets(t *testing.T) {
	m := newMemStore()
	m.series = []store.Series{{Labels: map[string]string{}, Points: []store.Point{
		{T: t0 - minute, V: 100}, // the bucket before from, read for the first rate
		{T: t0, V: 160},          // +60 in a minute
		{T: t0 + minute, V: 10},  // restarted: 10 since the restart
		{T: t0 + 2*minute, V: 70},
		{T: t0 + 4*minute, V: 190}, // after an empty bucket: 120 over two minutes
	}}}
	a := startAPI(t, allDeps(m))
	r := a.get(t, fmt.Sprintf("/v1/metrics/series?name=requests_total&agg=rate&from=%d&to=%d&step=60000", t0, t0+5*minute))
	require.Equal(t, []any{1.0, 10.0 / 60, 1.0, nil, 1.0}, seriesValues(t, r))
	q := m.queries[len(m.queries)-1]
	require.Equal(t, t0-minute, q.From, "rate reads one bucket before from")
	require.Equal(t, store.AggLast, q.Agg)
	require.Equal(t, "rate", r.body["agg"])
}
