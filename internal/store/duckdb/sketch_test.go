package duckdb

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// exactQuantile is quantile_cont over raw values.
func exactQuantile(values []float64, q float64) float64 {
	xs := slices.Sorted(slices.Values(values))
	h := q * float64(len(xs)-1)
	lo := int(math.Floor(h))
	hi := min(lo+1, len(xs)-1)
	return xs[lo] + (h-float64(lo))*(xs[hi]-xs[lo])
}

func bounds(values []float64) (lo, hi float64) {
	return slices.Min(values), slices.Max(values)
}

// TestSketchMergeEqualsWhole splits samples into parts, sketches each and
// merges them in random order: the result must be the sketch of all the
// samples at once, since nested grids lose nothing on re-binning.
func TestSketchMergeEqualsWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f := func(values []float64) {
		t.Helper()
		lo, hi := bounds(values)
		whole := newSketch(values, lo, hi)
		require.LessOrEqual(t, len(whole.bins), sketchBins)
		parts := slices.Clone(values)
		rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		var merged sketch
		var mlo, mhi float64
		for i, chunk := range slices.Collect(slices.Chunk(parts, 1+rng.IntN(len(parts)))) {
			clo, chi := bounds(chunk)
			s := newSketch(chunk, clo, chi)
			if i == 0 {
				merged, mlo, mhi = s, clo, chi
				continue
			}
			mlo, mhi = min(mlo, clo), max(mhi, chi)
			merged = merged.merge(s, mlo, mhi)
		}
		require.Equal(t, whole, merged)
	}
	f([]float64{0, 0, 0})
	f([]float64{-3, 5})
	f([]float64{1e6, 1e6 + 1, 1e6 + 2, 1e6 + 3})
	for range 200 {
		values := make([]float64, 1+rng.IntN(300))
		scale, shift := math.Pow(10, float64(rng.IntN(12)-6)), (rng.Float64()-0.5)*math.Pow(10, float64(rng.IntN(10)))
		for i := range values {
			values[i] = shift + rng.NormFloat64()*scale
		}
		f(values)
	}
}

// TestSketchQuantileError checks the documented bound, range/(sketchBins-1),
// on buckets made of several minutes with very different ranges, the case
// where the bound is weakest.
func TestSketchQuantileError(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	f := func(minutes [][]float64) {
		t.Helper()
		var all []float64
		var points []weighted
		for _, m := range minutes {
			lo, hi := bounds(m)
			points = newSketch(m, lo, hi).addPoints(points, lo, hi)
			all = append(all, m...)
		}
		lo, hi := bounds(all)
		for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.95, 0.99, 1} {
			want := exactQuantile(all, q)
			got := quantile(slices.Clone(points), q)
			require.InDelta(t, want, got, (hi-lo)/(sketchBins-1)+1e-12*math.Abs(want), "q=%v", q)
		}
	}
	for range 300 {
		minutes := make([][]float64, 1+rng.IntN(5))
		for i := range minutes {
			centre, spread := rng.NormFloat64()*100, math.Pow(10, float64(rng.IntN(5)-2))
			minutes[i] = make([]float64, 1+rng.IntN(200))
			for j := range minutes[i] {
				minutes[i][j] = centre + rng.ExpFloat64()*spread
			}
		}
		f(minutes)
	}
	f([][]float64{{7, 7, 7}})
}

func TestMinuteOf(t *testing.T) {
	for ts, want := range map[int64]int64{0: 0, 59_999: 0, 60_000: 60_000, -1: -60_000, -60_000: -60_000, 1_750_000_020_001: 1_750_000_020_000} {
		require.Equal(t, want, minuteOf(ts), "minute of %d", ts)
	}
}
