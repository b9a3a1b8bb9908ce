package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// testStats crafts tasks and logs around a three-minute window and checks
// every number of Stats by hand.
func testStats(t *testing.T, f *fixture) {
	const from, step = metricBase, store.RollupStep
	const to = from + 3*step
	ev := func(task, id string, ts int64, status schema.Status, taskType string) schema.Progress {
		return eventOf(f.tenant, task, id, ts, status, withOwner("u", taskType))
	}
	require.NoError(t, f.s.InsertProgress(f.ctx(), []schema.Progress{
		// scrape: completed after 60 s of running; created in bucket 0, completed in 1.
		ev("t1", "t1a", from+1000, schema.StatusPending, "scrape"),
		ev("t1", "t1b", from+2000, schema.StatusRunning, "scrape"),
		ev("t1", "t1c", from+62_000, schema.StatusCompleted, "scrape"),
		// scrape: failed after 120 s of running, in bucket 2.
		ev("t2", "t2a", from+5000, schema.StatusPending, "scrape"),
		ev("t2", "t2b", from+10_000, schema.StatusRunning, "scrape"),
		ev("t2", "t2c", from+130_000, schema.StatusFailed, "scrape"),
		// build: completed after 60 s.
		ev("t3", "t3a", from+3000, schema.StatusRunning, "build"),
		ev("t3", "t3b", from+63_000, schema.StatusCompleted, "build"),
		// build: cancelled 60 s after it was created, never ran.
		ev("t4", "t4a", from+4000, schema.StatusPending, "build"),
		ev("t4", "t4b", from+64_000, schema.StatusCancelled, "build"),
		// build: still running, created in bucket 1.
		ev("t5", "t5a", from+65_000, schema.StatusRunning, "build"),
		ev("t5", "t5b", from+66_000, schema.StatusRunning, "build"),
		// scrape: created before the window, completed in bucket 0, ran 25 s.
		ev("t6", "t6a", from-10_000, schema.StatusPending, "scrape"),
		ev("t6", "t6b", from-5000, schema.StatusRunning, "scrape"),
		ev("t6", "t6c", from+20_000, schema.StatusCompleted, "scrape"),
		// build: entirely after the window.
		ev("t7", "t7a", to+10_000, schema.StatusFailed, "build"),
		// scrape: failed after 10 s, in bucket 1.
		ev("t8", "t8a", from+100_000, schema.StatusRunning, "scrape"),
		ev("t8", "t8b", from+110_000, schema.StatusFailed, "scrape"),
	}))
	f.insertLogs(
		f.log("l1", from+1000, schema.LevelError, "a"),
		f.log("l2", from+2000, schema.LevelCritical, "b"),
		f.log("l3", from+3000, schema.LevelWarning, "not an error"),
		f.log("l4", from+125_000, schema.LevelError, "c"),
		f.log("l5", from-1, schema.LevelError, "before"),
		f.log("l6", to, schema.LevelCritical, "after"),
	)

	st, err := f.s.Stats(f.ctx(), store.StatsQuery{Tenant: f.tenant, From: from, To: to, Step: step})
	require.NoError(t, err)
	require.Equal(t, map[schema.Status]int64{
		schema.StatusCompleted: 3, schema.StatusFailed: 2, schema.StatusCancelled: 1, schema.StatusRunning: 1,
	}, st.ByStatus)
	require.Equal(t, []store.IntervalCounts{
		{T: from, Started: 4, Completed: 1},
		{T: from + step, Started: 2, Completed: 2, Failed: 1},
		{T: from + 2*step, Failed: 1},
	}, st.Intervals)
	require.Equal(t, []store.Point{{T: from, V: 2}, {T: from + 2*step, V: 1}}, st.ErrorLogs)

	require.Len(t, st.Types, 2)
	scrape, build := st.Types[0], st.Types[1]
	require.Equal(t, "scrape", scrape.TaskType, "most failures first")
	require.Equal(t, int64(4), scrape.Finished)
	require.Equal(t, int64(2), scrape.Failed)
	require.InDelta(t, 0.5, scrape.FailureRate, 1e-12)
	durations := []float64{10_000, 25_000, 60_000, 120_000}
	requireQuantile(t, durations, 0.50, scrape.DurationP50Ms, "scrape p50")
	requireQuantile(t, durations, 0.90, scrape.DurationP90Ms, "scrape p90")
	requireQuantile(t, durations, 0.99, scrape.DurationP99Ms, "scrape p99")
	require.Equal(t, store.TypeStats{
		TaskType: "build", Finished: 2, Failed: 0, FailureRate: 0,
		DurationP50Ms: 60_000, DurationP90Ms: 60_000, DurationP99Ms: 60_000,
	}, build)

	// One bucket over the same window sums the intervals.
	st, err = f.s.Stats(f.ctx(), store.StatsQuery{Tenant: f.tenant, From: from, To: to, Step: to - from})
	require.NoError(t, err)
	require.Equal(t, []store.IntervalCounts{{T: from, Started: 6, Completed: 3, Failed: 2}}, st.Intervals)
	require.Equal(t, []store.Point{{T: from, V: 3}}, st.ErrorLogs)
}

// testStatsTenantIsolation expects an empty overview for a tenant whose
// only neighbour has data in the window.
func testStatsTenantIsolation(t *testing.T, f *fixture) {
	require.NoError(t, f.s.InsertProgress(f.ctx(), []schema.Progress{
		eventOf(f.tenant, "t", "e1", metricBase+1, schema.StatusFailed, withOwner("u", "x")),
	}))
	f.insertLogs(f.log("l", metricBase+1, schema.LevelError, "boom"))
	st, err := f.s.Stats(f.ctx(), store.StatsQuery{Tenant: f.other("-other").tenant, From: metricBase, To: metricBase + store.RollupStep, Step: store.RollupStep})
	require.NoError(t, err)
	require.Empty(t, st.ByStatus)
	require.Empty(t, st.Intervals)
	require.Empty(t, st.Types)
	require.Empty(t, st.ErrorLogs)
}
