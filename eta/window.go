package eta

import (
	"hash/maphash"
	"math"
	"slices"
)

// Window is how many runs each edge of a type keeps: the newest ones.
// A fixed window rather than a merging quantile sketch (t-digest, DDSketch)
// because it forgets: when a type's runs get faster or slower, estimates
// follow within Window runs; and 100 samples place a 90th percentile well
// enough for a band.
const Window = 100

// sample is what one completed run tells at one edge: how long it had run
// when its progress crossed the edge, and how long it still took. Run
// identifies the task, so the same run is never counted twice (a task
// both seeded from the store and followed on the bus, or redelivered).
type sample struct {
	run                uint32
	elapsed, remaining float32 // ms
}

// window holds the newest samples of one edge, in a fixed array so that
// its memory does not grow, with its quantiles cached until the next add.
type window struct {
	samples [Window]sample
	n, next int
	stale   bool
	q       quantiles
}

// quantiles are what an estimate reads of a window: the median and 90th
// percentile of the time runs had left, and of their pace: the time left
// per unit of time run so far, which scales with a task's own speed.
// There is no pace at edge 0, where nothing has run yet.
type quantiles struct {
	r50, r90       float64
	pace50, pace90 float64
	paced          bool
}

// add keeps s, replacing the oldest sample when the window is full and
// evict is set. It reports whether s was kept.
func (w *window) add(s sample, evict bool) bool {
	for _, o := range w.samples[:w.n] {
		if o.run == s.run {
			return false
		}
	}
	switch {
	case w.n < Window:
		w.samples[w.n] = s
		w.n++
	case evict:
		w.samples[w.next] = s
		w.next = (w.next + 1) % Window
	default:
		return false
	}
	w.stale = true
	return true
}

// quantiles returns the window's quantiles; the window must hold a sample.
func (w *window) quantiles() quantiles {
	if !w.stale {
		return w.q
	}
	var remaining, pace [Window]float64
	paced := 0
	for i, s := range w.samples[:w.n] {
		remaining[i] = float64(s.remaining)
		if s.elapsed > 0 {
			pace[paced] = float64(s.remaining / s.elapsed)
			paced++
		}
	}
	r, p := remaining[:w.n], pace[:paced]
	slices.Sort(r)
	slices.Sort(p)
	w.q = quantiles{r50: rank(r, 0.5), r90: rank(r, 0.9), paced: paced > 0}
	if w.q.paced {
		w.q.pace50, w.q.pace90 = rank(p, 0.5), rank(p, 0.9)
	}
	w.stale = false
	return w.q
}

// rank is the nearest-rank q-quantile of sorted values.
func rank(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// runSeed hashes task ids into sample.run; 32 bits make a collision in a
// window of 100 runs unlikely, and one would only drop a sample.
var runSeed = maphash.MakeSeed()

func runID(taskID string) uint32 {
	return uint32(maphash.String(runSeed, taskID))
}
