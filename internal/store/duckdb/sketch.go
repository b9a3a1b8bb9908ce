package duckdb

import (
	"cmp"
	"math"
	"slices"
)

// sketchBins bounds the occupied bins of a minute's quantile sketch.
//
// DuckDB has no aggregate state type to keep in the rollup, so each
// minute keeps a histogram whose bins are aligned powers of two wide:
// bin i at exponent e covers [i*2^e, (i+1)*2^e). The exponent is the
// smallest that puts the minute's [min, max] in at most sketchBins bins.
// Because the grids nest, a bin at exponent e lies wholly inside one bin
// at any larger exponent, so merging a late batch into a stored minute
// re-bins by shifting indexes and loses nothing beyond the coarser grid:
// every sample stays in the bin that contains it.
//
// Error: with the smallest fitting exponent, half a bin (2^(e-1)) would
// not have fitted, so range > (sketchBins-1) * 2^(e-1) and a bin's width
// is below 2*range/(sketchBins-1). A quantile is read by putting each
// bin's count at the bin's centre (clamped to the minute's min and max),
// which moves every sample by less than range/(sketchBins-1); an order
// statistic moves no more than the samples it is chosen from, and so does
// any interpolation between two of them. A bucket of many minutes has a
// range at least that of each minute, so its quantiles are within
// range/63 ≈ 1.6 % of the bucket's range, a third of
// store.QuantileTolerance.
const sketchBins = 64

// finestExp is the exponent of a sketch of zeros only: any other value
// raises it to its own precision floor (see precisionExp).
const finestExp = -1074

// sketch is a minute's quantile state: counts of occupied bins at
// exponent exp, bins ascending.
type sketch struct {
	exp    int
	bins   []int64
	counts []int64
}

// newSketch builds the sketch of values, whose min and max are lo and hi.
func newSketch(values []float64, lo, hi float64) sketch {
	exp := fitExp(lo, hi, finestExp)
	byBin := make(map[int64]int64, min(len(values), sketchBins))
	for _, v := range values {
		byBin[binOf(v, exp)]++
	}
	return sketchOf(exp, byBin)
}

// merge returns the sketch of both samples, whose joint min and max are lo
// and hi.
func (s sketch) merge(o sketch, lo, hi float64) sketch {
	exp := fitExp(lo, hi, max(s.exp, o.exp))
	byBin := make(map[int64]int64, len(s.bins)+len(o.bins))
	for _, src := range []sketch{s, o} {
		for i, b := range src.bins {
			byBin[rebin(b, exp-src.exp)] += src.counts[i]
		}
	}
	return sketchOf(exp, byBin)
}

func sketchOf(exp int, byBin map[int64]int64) sketch {
	s := sketch{exp: exp, bins: make([]int64, 0, len(byBin)), counts: make([]int64, 0, len(byBin))}
	for b := range byBin {
		s.bins = append(s.bins, b)
	}
	slices.Sort(s.bins)
	for _, b := range s.bins {
		s.counts = append(s.counts, byBin[b])
	}
	return s
}

// fitExp returns the smallest exponent, at least floor, at which [lo, hi]
// spans at most sketchBins bins.
func fitExp(lo, hi float64, floor int) int {
	exp := max(floor, precisionExp(max(math.Abs(lo), math.Abs(hi))))
	if hi > lo {
		// 2^(ilogb(range)-7) is at most range/128, where the span is over
		// 64 bins, so counting up from there finds the smallest that fits.
		exp = max(exp, math.Ilogb(hi-lo)-7)
	}
	for binOf(hi, exp)-binOf(lo, exp)+1 > sketchBins {
		exp++
	}
	return exp
}

// precisionExp is the finest exponent worth using for values up to
// maxAbs: bins narrower than a float64 can tell apart mean nothing, and
// this floor keeps bin indexes and their centres exact (below 2^51).
func precisionExp(maxAbs float64) int {
	if maxAbs == 0 {
		return finestExp
	}
	return math.Ilogb(maxAbs) - 50
}

func binOf(v float64, exp int) int64 { return int64(math.Floor(math.Ldexp(v, -exp))) }

// rebin moves a bin to a grid shift exponents coarser. An arithmetic shift
// floors, also for negative bins, and a shift past 63 leaves 0 or -1, the
// bin that holds every value of that sign.
func rebin(bin int64, shift int) int64 { return bin >> uint(shift) }

// centre is where a bin's samples are taken to be.
func (s sketch) centre(i int) float64 { return math.Ldexp(float64(s.bins[i])+0.5, s.exp) }

// weighted is a value standing for count samples.
type weighted struct {
	v     float64
	count int64
}

// addPoints appends the sketch's bins as weighted values, each clamped to
// [lo, hi], the minute's min and max, where its samples certainly are.
func (s sketch) addPoints(points []weighted, lo, hi float64) []weighted {
	for i, c := range s.counts {
		points = append(points, weighted{min(max(s.centre(i), lo), hi), c})
	}
	return points
}

// quantile is the q-quantile of points by linear interpolation between
// the two closest ranks, as DuckDB's quantile_cont computes it over raw
// samples. It sorts points.
func quantile(points []weighted, q float64) float64 {
	slices.SortFunc(points, func(a, b weighted) int { return cmp.Compare(a.v, b.v) })
	var n int64
	for _, p := range points {
		n += p.count
	}
	h := q * float64(n-1)
	lo := int64(math.Floor(h))
	vlo, vhi := rankValue(points, lo), rankValue(points, min(lo+1, n-1))
	return vlo + (h-float64(lo))*(vhi-vlo)
}

// rankValue is the value of the sample of 0-based rank r in sorted points.
func rankValue(points []weighted, r int64) float64 {
	for _, p := range points {
		if r < p.count {
			return p.v
		}
		r -= p.count
	}
	return points[len(points)-1].v
}
