package query_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
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
	st := openStore(t)
	m := func(ts int64, v float64) schema.Metric {
		return schema.Metric{Name: "m", Timestamp: ts, Value: v, Labels: map[string]string{"host": "a", "zone": "z1"}}
	}
	// Two samples in the first minute average to 1; the samples at t0+1m
	// are another metric's and another tenant's, so that minute is empty.
	otherMetric, otherTenant := m(t0+minute, 50), m(t0+minute, 60)
	otherMetric.Name, otherTenant.Tenant = "n", "other"
	insertMetrics(t, st, m(t0, 0), m(t0+30_000, 2), m(t0+2*minute, 3), otherMetric, otherTenant)
	a := startAPI(t, allDeps(st))

	r := a.get(t, fmt.Sprintf("/v1/metrics/series?name=m&group_by=host&from=%d&to=%d&step=1m", t0, t0+5*minute))
	require.Equal(t, []any{1.0, nil, 3.0, nil, nil}, seriesValues(t, r), "empty buckets are null, not missing")
	series := r.body["series"].([]any)[0].(map[string]any)
	require.Equal(t, map[string]any{"host": "a"}, series["labels"], "grouped by host alone")
	require.Equal(t, float64(t0+minute), series["points"].([]any)[1].(map[string]any)["t"])
	delete(r.body, "series")
	require.Equal(t, map[string]any{"name": "m", "agg": "avg", "from": float64(t0), "to": float64(t0 + 5*minute), "step": float64(minute)}, r.body)
}

func TestSeriesChoosesAStep(t *testing.T) {
	a := startAPI(t, allDeps(openStore(t)))
	f := func(from, to, wantStep int64) {
		t.Helper()
		r := a.get(t, fmt.Sprintf("/v1/metrics/series?name=m&from=%d&to=%d", from, to))
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		step, gotFrom, gotTo := int64(r.body["step"].(float64)), int64(r.body["from"].(float64)), int64(r.body["to"].(float64))
		require.Equal(t, wantStep, step)
		if step%store.RollupStep == 0 {
			require.Zero(t, gotFrom%step, "a minute step aligns from, so the store reads its rollup")
		}
		require.Equal(t, to, gotTo)
		require.LessOrEqual(t, (gotTo-gotFrom)/step, int64(121))
	}
	f(t0, t0+60*minute, 30_000)              // an hour: 30 s
	f(t0, t0+60_000, 1_000)                  // a minute: never under a second
	f(t0+7_000, t0+24*60*minute, 900_000)    // a day: 15 min, aligned
	f(t0, t0+30*24*60*minute, 21_600_000)    // a month: 6 h
	f(t0, t0+400*24*60*minute, 4*86_400_000) // beyond: whole days
}

func TestRateHandlesCounterResets(t *testing.T) {
	st := openStore(t)
	c := func(ts int64, v float64) schema.Metric {
		return schema.Metric{Name: "requests_total", Kind: schema.KindCounter, Timestamp: ts, Value: v}
	}
	insertMetrics(t, st,
		c(t0-minute, 100), // the bucket before from, read for the first rate
		c(t0, 130),
		c(t0+30_000, 160), // +60 in a minute, from the bucket's last value
		c(t0+minute, 10),  // restarted: 10 since the restart
		c(t0+2*minute, 70),
		c(t0+4*minute, 190), // after an empty bucket: 120 over two minutes
	)
	a := startAPI(t, allDeps(st))
	r := a.get(t, fmt.Sprintf("/v1/metrics/series?name=requests_total&agg=rate&from=%d&to=%d&step=60000", t0, t0+5*minute))
	require.Equal(t, []any{1.0, 10.0 / 60, 1.0, nil, 1.0}, seriesValues(t, r),
		"the first rate needs the bucket before from; an average of the first bucket would make it 0.75")
	require.Equal(t, "rate", r.body["agg"])
	require.Equal(t, float64(t0), r.body["from"])
}
