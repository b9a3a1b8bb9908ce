package storetest

import (
	"cmp"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// expectedBucket is one group's distinct samples in one bucket.
type expectedBucket struct {
	t       int64
	samples []schema.Metric
}

// expectedSeries is one group's buckets, oldest first, and its labels.
type expectedSeries struct {
	labels  map[string]string
	key     []string
	buckets []expectedBucket
}

// expectSeries groups and buckets the samples q selects, written to be
// obviously right: keep the first copy of each event id, filter with Go's
// regexp, and sort.
func expectSeries(samples []schema.Metric, q store.SeriesQuery) []expectedSeries {
	groups := map[string]*expectedSeries{}
	seen := map[string]bool{}
	for _, m := range samples {
		if seen[m.Tenant+"\x00"+m.EventID] {
			continue
		}
		seen[m.Tenant+"\x00"+m.EventID] = true
		if m.Tenant != q.Tenant || m.Name != q.Name || m.Timestamp < q.From || m.Timestamp >= q.To || !matchesAll(m.Labels, q.Matchers) ||
			(q.TaskID != "" && m.TaskID != q.TaskID) {
			continue
		}
		key := make([]string, len(q.GroupBy))
		labels := map[string]string{}
		for i, name := range q.GroupBy {
			key[i] = m.Labels[name]
			if key[i] != "" {
				labels[name] = key[i]
			}
		}
		id := strings.Join(key, "\x00")
		g := groups[id]
		if g == nil {
			g = &expectedSeries{labels: labels, key: key}
			groups[id] = g
		}
		t := q.From + (m.Timestamp-q.From)/q.Step*q.Step
		i := slices.IndexFunc(g.buckets, func(b expectedBucket) bool { return b.t == t })
		if i < 0 {
			g.buckets = append(g.buckets, expectedBucket{t: t})
			i = len(g.buckets) - 1
		}
		g.buckets[i].samples = append(g.buckets[i].samples, m)
	}
	var out []expectedSeries
	for _, g := range groups {
		slices.SortFunc(g.buckets, func(a, b expectedBucket) int { return cmp.Compare(a.t, b.t) })
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b expectedSeries) int { return slices.Compare(a.key, b.key) })
	return out
}

func matchesAll(labels map[string]string, ms []store.Matcher) bool {
	for _, m := range ms {
		v := labels[m.Name]
		var ok bool
		switch m.Op {
		case store.MatchEqual:
			ok = v == m.Value
		case store.MatchNotEqual:
			ok = v != m.Value
		case store.MatchRegexp:
			ok = regexp.MustCompile("^(?:" + m.Value + ")$").MatchString(v)
		case store.MatchNotRegexp:
			ok = !regexp.MustCompile("^(?:" + m.Value + ")$").MatchString(v)
		}
		if !ok {
			return false
		}
	}
	return true
}

// exact computes an aggregation that the contract makes exact. Last is
// the sample with the greatest timestamp; scenarios give no two samples
// of a bucket the same one.
func exact(agg store.Aggregation, samples []schema.Metric) float64 {
	var sum float64
	lo, hi := math.Inf(1), math.Inf(-1)
	last := samples[0]
	for _, m := range samples {
		sum += m.Value
		lo, hi = min(lo, m.Value), max(hi, m.Value)
		if m.Timestamp > last.Timestamp {
			last = m
		}
	}
	switch agg {
	case store.AggAvg:
		return sum / float64(len(samples))
	case store.AggMin:
		return lo
	case store.AggMax:
		return hi
	case store.AggSum:
		return sum
	case store.AggCount:
		return float64(len(samples))
	case store.AggLast:
		return last.Value
	}
	panic("BUG: not an exact aggregation: " + string(agg))
}

// quantileLevels are the quantile aggregations and their levels.
var quantileLevels = map[store.Aggregation]float64{
	store.AggP50: 0.50, store.AggP90: 0.90, store.AggP95: 0.95, store.AggP99: 0.99,
}

// requireQuantile checks got against the q-quantile of values. Stores
// define the exact quantile differently (interpolating, nearest rank), so
// anything between the two order statistics around rank q*(n-1) is
// exact; an estimate may stray QuantileTolerance of the range beyond.
func requireQuantile(t testing.TB, values []float64, q, got float64, msg string) {
	t.Helper()
	xs := slices.Clone(values)
	slices.Sort(xs)
	h := q * float64(len(xs)-1)
	slack := store.QuantileTolerance * (xs[len(xs)-1] - xs[0])
	lo, hi := xs[int(math.Floor(h))]-slack, xs[int(math.Ceil(h))]+slack
	require.True(t, got >= lo && got <= hi, "%s: %v outside [%v, %v]", msg, got, lo, hi)
}

// requireSeries checks a store's answer against the expected series:
// exact aggregations to 1e-9 of their magnitude (sums may add in another
// order), quantiles as requireQuantile does.
func requireSeries(t testing.TB, want []expectedSeries, agg store.Aggregation, got []store.Series, msg string) {
	t.Helper()
	require.Len(t, got, len(want), "%s: series", msg)
	for i, w := range want {
		g := got[i]
		labels := g.Labels
		if labels == nil {
			labels = map[string]string{}
		}
		require.Equal(t, w.labels, labels, "%s: series %d labels", msg, i)
		times := make([]int64, len(g.Points))
		for j, p := range g.Points {
			times[j] = p.T
		}
		wantTimes := make([]int64, len(w.buckets))
		for j, b := range w.buckets {
			wantTimes[j] = b.t
		}
		require.Equal(t, wantTimes, times, "%s: buckets of %v", msg, w.labels)
		for j, b := range w.buckets {
			v := g.Points[j].V
			where := msg + ": " + string(agg) + " of " + formatLabels(w.labels) + " at " + formatInt(b.t)
			if level, ok := quantileLevels[agg]; ok {
				values := make([]float64, len(b.samples))
				for k, m := range b.samples {
					values[k] = m.Value
				}
				requireQuantile(t, values, level, v, where)
				continue
			}
			want := exact(agg, b.samples)
			require.InDelta(t, want, v, 1e-9*max(1, math.Abs(want)), where)
		}
	}
}

func formatLabels(l map[string]string) string {
	keys := slices.Sorted(maps.Keys(l))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func formatInt(v int64) string { return strconv.FormatInt(v, 10) }
