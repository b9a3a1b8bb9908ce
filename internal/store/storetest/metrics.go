package storetest

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// metricBase is the first whole rollup minute after baseTime.
const metricBase = baseTime - baseTime%store.RollupStep + store.RollupStep

const metricName = "http_request_duration_ms"

var allAggregations = []store.Aggregation{
	store.AggAvg, store.AggMin, store.AggMax, store.AggSum, store.AggCount, store.AggLast,
	store.AggP50, store.AggP90, store.AggP95, store.AggP99,
}

// randomSamples makes n samples of metricName over six minutes, the
// third left empty, with distinct timestamps none of which starts a
// minute. Routes have different value distributions; zone is missing
// from some samples.
func (f *fixture) randomSamples(rng *rand.Rand, n int) []schema.Metric {
	used := map[int64]bool{}
	samples := make([]schema.Metric, 0, n)
	for i := range n {
		var ts int64
		for ts == 0 || used[ts] || ts%store.RollupStep == 0 || (ts-metricBase)/store.RollupStep == 2 {
			ts = metricBase + 1 + rng.Int64N(6*store.RollupStep-1)
		}
		used[ts] = true
		route := []string{"/a", "/b", "/c"}[rng.IntN(3)]
		var value float64
		switch route {
		case "/a":
			value = float64(rng.IntN(100))
		case "/b":
			value = math.Round(rng.ExpFloat64()*5000) / 100
		default:
			value = float64(rng.IntN(3)) - 1e6
		}
		labels := map[string]string{"route": route, "method": []string{"GET", "POST"}[rng.IntN(2)]}
		if rng.IntN(3) > 0 {
			labels["zone"] = []string{"eu", "us"}[rng.IntN(2)]
		}
		samples = append(samples, schema.Metric{
			Tenant: f.tenant, EventID: fmt.Sprintf("%08x-%d", rng.Uint32(), i), Timestamp: ts, IngestOrder: int64(i),
			Name: metricName, Kind: schema.KindHistogram, Value: value, Unit: "ms", Labels: labels,
		})
	}
	return samples
}

// insertShuffled inserts samples in random order and random batch sizes,
// so that most minutes of the rollup are written by several batches.
func (f *fixture) insertShuffled(rng *rand.Rand, samples []schema.Metric) {
	f.t.Helper()
	shuffled := slices.Clone(samples)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for len(shuffled) > 0 {
		n := min(len(shuffled), 1+rng.IntN(60))
		f.insertMetrics(shuffled[:n]...)
		shuffled = shuffled[n:]
	}
}

func (f *fixture) insertMetrics(samples ...schema.Metric) {
	f.t.Helper()
	require.NoError(f.t, f.s.InsertMetrics(f.ctx(), samples))
}

func (f *fixture) series(q store.SeriesQuery) []store.Series {
	f.t.Helper()
	q.Tenant = f.tenant
	if q.Name == "" {
		q.Name = metricName
	}
	got, err := f.s.MetricSeries(f.ctx(), q)
	require.NoError(f.t, err)
	return got
}

// seriesShapes are windows that read the rollup (whole minutes from a
// whole minute) and windows that cannot (sub-minute steps, an unaligned
// start), over the six minutes of randomSamples.
var seriesShapes = []struct {
	name           string
	from, to, step int64
}{
	{"rollup minutes", metricBase, metricBase + 6*store.RollupStep, store.RollupStep},
	{"rollup two minutes", metricBase, metricBase + 6*store.RollupStep, 2 * store.RollupStep},
	{"rollup one bucket", metricBase, metricBase + 6*store.RollupStep, 6 * store.RollupStep},
	{"raw half minutes", metricBase, metricBase + 6*store.RollupStep, store.RollupStep / 2},
	{"raw unaligned", metricBase + 7, metricBase + 6*store.RollupStep, store.RollupStep},
}

// testMetricAggregations checks every aggregation on every window shape,
// with no grouping and grouped by one and by two labels.
func testMetricAggregations(t *testing.T, f *fixture) {
	rng := rand.New(rand.NewPCG(5, 6))
	samples := f.randomSamples(rng, 900)
	f.insertShuffled(rng, samples)
	for _, shape := range seriesShapes {
		for _, groupBy := range [][]string{nil, {"route"}, {"route", "zone"}} {
			for _, agg := range allAggregations {
				q := store.SeriesQuery{Tenant: f.tenant, Name: metricName, From: shape.from, To: shape.to, Step: shape.step, Agg: agg, GroupBy: groupBy}
				requireSeries(t, expectSeries(samples, q), agg, f.series(q), fmt.Sprintf("%s by %v", shape.name, groupBy))
			}
		}
	}
}

// testMetricMatchersAndGroups checks each matcher operator, including on
// a label some samples lack, on the rollup and on the raw samples.
func testMetricMatchersAndGroups(t *testing.T, f *fixture) {
	rng := rand.New(rand.NewPCG(7, 8))
	samples := f.randomSamples(rng, 400)
	f.insertShuffled(rng, samples)
	m := func(name string, op store.MatchOp, value string) store.Matcher {
		return store.Matcher{Name: name, Op: op, Value: value}
	}
	cases := [][]store.Matcher{
		{m("route", store.MatchEqual, "/a")},
		{m("route", store.MatchNotEqual, "/a")},
		{m("route", store.MatchRegexp, "/(a|b)")},
		{m("route", store.MatchRegexp, "/")},
		{m("route", store.MatchNotRegexp, "/a")},
		{m("zone", store.MatchEqual, "")},
		{m("zone", store.MatchNotEqual, "")},
		{m("zone", store.MatchRegexp, "eu|")},
		{m("zone", store.MatchNotRegexp, "eu|")},
		{m("nothing", store.MatchEqual, "")},
		{m("route", store.MatchNotEqual, "/c"), m("method", store.MatchEqual, "GET"), m("zone", store.MatchRegexp, "u.")},
	}
	for _, matchers := range cases {
		for _, shape := range []int{0, 3} {
			for _, agg := range []store.Aggregation{store.AggCount, store.AggSum, store.AggP90} {
				s := seriesShapes[shape]
				q := store.SeriesQuery{Tenant: f.tenant, Name: metricName, Matchers: matchers, From: s.from, To: s.to, Step: s.step, Agg: agg, GroupBy: []string{"method", "zone"}}
				requireSeries(t, expectSeries(samples, q), agg, f.series(q), fmt.Sprintf("%v on %s", matchers, s.name))
			}
		}
	}
	none := f.series(store.SeriesQuery{Matchers: []store.Matcher{m("route", store.MatchEqual, "/nowhere")},
		From: metricBase, To: metricBase + 6*store.RollupStep, Step: store.RollupStep, Agg: store.AggCount})
	require.Empty(t, none)
}

// taskSamples gives the samples of randomSamples to tasks a and b and to
// none, by turns, and keeps tasks' ids out of the labels.
func (f *fixture) taskSamples(rng *rand.Rand, n int) []schema.Metric {
	samples := f.randomSamples(rng, n)
	for i := range samples {
		samples[i].TaskID = []string{"task-a", "task-b", ""}[i%3]
	}
	return samples
}

// testMetricTaskFilter checks the task filter on windows the rollup would
// answer and on raw ones, alone, with a matcher and grouped: only the
// samples reported with the task count, whatever table serves the rest.
func testMetricTaskFilter(t *testing.T, f *fixture) {
	rng := rand.New(rand.NewPCG(17, 18))
	samples := f.taskSamples(rng, 600)
	f.insertShuffled(rng, samples)
	get := []store.Matcher{{Name: "method", Op: store.MatchEqual, Value: "GET"}}
	for _, taskID := range []string{"task-a", "task-b"} {
		for _, shape := range []int{0, 2, 3, 4} {
			s := seriesShapes[shape]
			for _, agg := range []store.Aggregation{store.AggCount, store.AggSum, store.AggMin, store.AggLast, store.AggP90} {
				for _, matchers := range [][]store.Matcher{nil, get} {
					q := store.SeriesQuery{Tenant: f.tenant, Name: metricName, TaskID: taskID, Matchers: matchers,
						From: s.from, To: s.to, Step: s.step, Agg: agg, GroupBy: []string{"route"}}
					want := expectSeries(samples, q)
					require.NotEmpty(t, want)
					requireSeries(t, want, agg, f.series(q), fmt.Sprintf("%s %v on %s", taskID, matchers, s.name))
				}
			}
		}
	}
	// The filtered count is the task's share, not the whole metric's.
	q := store.SeriesQuery{Name: metricName, TaskID: "task-a", From: metricBase, To: metricBase + 6*store.RollupStep,
		Step: 6 * store.RollupStep, Agg: store.AggCount}
	got := f.series(q)
	require.Len(t, got, 1)
	require.Len(t, got[0].Points, 1)
	require.Equal(t, float64(200), got[0].Points[0].V)
	q.TaskID = "task-nobody"
	require.Empty(t, f.series(q))
}

// testTaskMetrics lists the metrics each task reported: names in order,
// the latest sample's kind and unit, counts and time span, a limit, and
// nothing of another tenant's task of the same id.
func testTaskMetrics(t *testing.T, f *fixture) {
	rng := rand.New(rand.NewPCG(19, 20))
	samples := f.taskSamples(rng, 90)
	for i := range 5 {
		// A gauge of task a whose unit changed along the way.
		samples = append(samples, schema.Metric{
			Tenant: f.tenant, EventID: fmt.Sprintf("depth-%d", i), Timestamp: metricBase + int64(i)*1000 + 1, IngestOrder: int64(1000 + i),
			Name: "queue_depth", Kind: schema.KindGauge, Value: float64(i), Unit: []string{"jobs", "items"}[min(i/4, 1)], TaskID: "task-a",
		})
	}
	other := f.other("-other")
	theirs := other.taskSamples(rng, 30)
	for i := range theirs {
		theirs[i].Name = "their_metric"
	}
	f.insertShuffled(rng, samples)
	other.insertMetrics(theirs...)
	f.insertMetrics(samples[:10]...) // redelivered, counted once

	want := func(taskID string) []store.TaskMetric {
		byName := map[string]*store.TaskMetric{}
		var names []string
		for _, m := range samples {
			if m.TaskID != taskID {
				continue
			}
			tm := byName[m.Name]
			if tm == nil {
				tm = &store.TaskMetric{Name: m.Name, First: m.Timestamp, Last: m.Timestamp - 1}
				byName[m.Name] = tm
				names = append(names, m.Name)
			}
			tm.Samples++
			tm.First = min(tm.First, m.Timestamp)
			if m.Timestamp > tm.Last {
				tm.Last, tm.Kind, tm.Unit = m.Timestamp, m.Kind, m.Unit
			}
		}
		slices.Sort(names)
		out := make([]store.TaskMetric, len(names))
		for i, n := range names {
			out[i] = *byName[n]
		}
		return out
	}
	list := func(f *fixture, taskID string, limit int) []store.TaskMetric {
		t.Helper()
		got, err := f.s.TaskMetrics(f.ctx(), f.tenant, taskID, limit)
		require.NoError(t, err)
		return got
	}
	a := want("task-a")
	require.Len(t, a, 2)
	require.Equal(t, store.TaskMetric{Name: "queue_depth", Kind: schema.KindGauge, Unit: "items", Samples: 5,
		First: metricBase + 1, Last: metricBase + 4001}, a[1])
	require.Equal(t, a, list(f, "task-a", 10))
	require.Equal(t, a[:1], list(f, "task-a", 1))
	require.Equal(t, want("task-b"), list(f, "task-b", 10))
	require.Len(t, want("task-b"), 1)
	require.Empty(t, list(f, "task-nobody", 10))

	theirA := list(other, "task-a", 10)
	require.Len(t, theirA, 1)
	require.Equal(t, "their_metric", theirA[0].Name)
	require.Equal(t, int64(10), theirA[0].Samples)
}

// allSeries answers every aggregation on a rollup and a raw window, for
// comparing a store's answers before and after a change.
func (f *fixture) allSeries() map[string][]store.Series {
	out := map[string][]store.Series{}
	for _, shape := range []int{0, 3} {
		s := seriesShapes[shape]
		for _, agg := range allAggregations {
			out[s.name+" "+string(agg)] = f.series(store.SeriesQuery{From: s.from, To: s.to, Step: s.step, Agg: agg, GroupBy: []string{"route"}})
		}
	}
	return out
}

// testMetricRedelivery re-sends stored samples: whole, split differently,
// repeated within a batch and with other values under the same ids. No
// answer, from the raw samples or the rollup, may change.
func testMetricRedelivery(t *testing.T, f *fixture) {
	rng := rand.New(rand.NewPCG(9, 10))
	samples := f.randomSamples(rng, 300)
	f.insertMetrics(samples...)
	before := f.allSeries()

	f.insertMetrics(samples...)
	f.insertShuffled(rng, samples)
	f.insertMetrics(samples[0], samples[0], samples[1])
	changed := slices.Clone(samples[:50])
	for i := range changed {
		changed[i].Value += 1000
		changed[i].Timestamp++
	}
	f.insertMetrics(changed...)
	requireSameAnswers(t, before, f.allSeries())
}

// requireSameAnswers checks that got holds the series of want, with the
// same labels and times and values equal but for the last digits, which a
// float sum taken in another order changes: on a cluster the shards'
// partial sums reach the initiator in either order.
func requireSameAnswers(t testing.TB, want, got map[string][]store.Series) {
	t.Helper()
	require.Equal(t, slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got)))
	for query, ws := range want {
		gs := got[query]
		require.Len(t, gs, len(ws), "%s: series", query)
		for i, w := range ws {
			g := gs[i]
			require.Equal(t, w.Labels, g.Labels, "%s: series %d labels", query, i)
			require.Len(t, g.Points, len(w.Points), "%s: points of %v", query, w.Labels)
			for j, p := range w.Points {
				require.Equal(t, p.T, g.Points[j].T, "%s: point %d of %v", query, j, w.Labels)
				require.InDelta(t, p.V, g.Points[j].V, 1e-12*max(1, math.Abs(p.V)), "%s: %v at %d", query, w.Labels, p.T)
			}
		}
	}
}

// testMetricRollupMatchesRaw compares a window the rollup answers with
// the same buckets moved by one millisecond, which the raw samples must
// answer. No sample starts a minute, so both windows bucket the same
// samples together; their exact aggregations must agree and both
// quantile estimates be within tolerance.
func testMetricRollupMatchesRaw(t *testing.T, f *fixture) {
	rng := rand.New(rand.NewPCG(11, 12))
	samples := f.randomSamples(rng, 1200)
	f.insertShuffled(rng, samples)
	for _, step := range []int64{store.RollupStep, 3 * store.RollupStep} {
		for _, agg := range allAggregations {
			q := store.SeriesQuery{Tenant: f.tenant, Name: metricName, From: metricBase, To: metricBase + 6*store.RollupStep, Step: step, Agg: agg, GroupBy: []string{"zone"}}
			moved := q
			moved.From, moved.To = q.From+1, q.To+1
			rollup, raw := f.series(q), f.series(moved)
			requireSeries(t, expectSeries(samples, q), agg, rollup, "rollup")
			requireSeries(t, expectSeries(samples, moved), agg, raw, "raw")
			if _, isQuantile := quantileLevels[agg]; isQuantile {
				continue
			}
			for i := range rollup {
				for j, p := range rollup[i].Points {
					require.Equal(t, p.T+1, raw[i].Points[j].T)
					require.InDelta(t, p.V, raw[i].Points[j].V, 1e-9*max(1, math.Abs(p.V)), "%s at %d", agg, p.T)
				}
			}
		}
	}
}

// testMetricPartialLastMinute ends windows of whole-minute buckets inside
// a minute, as a window ending now does: the samples after the end must
// not count.
func testMetricPartialLastMinute(t *testing.T, f *fixture) {
	rng := rand.New(rand.NewPCG(13, 14))
	samples := f.randomSamples(rng, 600)
	f.insertShuffled(rng, samples)
	for _, step := range []int64{store.RollupStep, 2 * store.RollupStep} {
		for _, to := range []int64{metricBase + 3*store.RollupStep + 29_999, metricBase + 5*store.RollupStep + 1} {
			for _, agg := range allAggregations {
				q := store.SeriesQuery{Tenant: f.tenant, Name: metricName, From: metricBase, To: to, Step: step, Agg: agg, GroupBy: []string{"route"}}
				requireSeries(t, expectSeries(samples, q), agg, f.series(q), fmt.Sprintf("step %d to %d", step, to))
			}
		}
	}
}

// testMetricTenantIsolation stores the same samples, ids included, under
// two tenants with other values and expects each to see its own.
func testMetricTenantIsolation(t *testing.T, f *fixture) {
	rng := rand.New(rand.NewPCG(15, 16))
	other := f.other("-other")
	mine := f.randomSamples(rng, 200)
	theirs := slices.Clone(mine)
	for i := range theirs {
		theirs[i].Tenant = other.tenant
		theirs[i].Value *= 2
	}
	f.insertMetrics(append(slices.Clone(mine), theirs...)...)
	for _, fx := range []struct {
		f       *fixture
		samples []schema.Metric
	}{{f, mine}, {other, theirs}} {
		for _, shape := range []int{0, 3} {
			s := seriesShapes[shape]
			q := store.SeriesQuery{Tenant: fx.f.tenant, Name: metricName, From: s.from, To: s.to, Step: s.step, Agg: store.AggSum}
			requireSeries(t, expectSeries(fx.samples, q), store.AggSum, fx.f.series(q), s.name)
		}
	}
	require.Empty(t, f.other("-nobody").series(store.SeriesQuery{From: metricBase, To: metricBase + 6*store.RollupStep, Step: store.RollupStep, Agg: store.AggCount}))
}
