package query

import (
	"strconv"
	"time"

	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
)

const (
	// maxBuckets bounds the buckets of one answer: a little more than a
	// week at one minute, beyond what any chart can show.
	maxBuckets = 11_000
	// targetBuckets is how many buckets a chosen step aims for, about one
	// per pixel pair of a wide chart.
	targetBuckets = 120
	minAutoStep   = int64(time.Second / time.Millisecond)
)

// niceSteps are the steps chosen when a request names none, in ms; past
// the last one, steps are whole days. Every one from a minute up is a
// multiple of store.RollupStep, so that long ranges read the rollup.
var niceSteps = []int64{
	1_000, 2_000, 5_000, 10_000, 15_000, 30_000,
	60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
	3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
}

// window is a time range cut into buckets: [From, To) in steps of Step ms,
// the first starting at From.
type window struct {
	From, To, Step int64
}

// buckets is the number of buckets, the last one possibly partial.
func (w window) buckets() int { return int((w.To - w.From + w.Step - 1) / w.Step) }

// times lists every bucket's start.
func (w window) times() []int64 {
	out := make([]int64, w.buckets())
	for i := range out {
		out[i] = w.From + int64(i)*w.Step
	}
	return out
}

// timeRange reads from and to, defaulting to the span that ends now.
func (p *params) timeRange(now int64, span time.Duration) (from, to int64, err error) {
	if from, err = p.Time("from"); err != nil {
		return 0, 0, err
	}
	if to, err = p.Time("to"); err != nil {
		return 0, 0, err
	}
	if to == 0 {
		to = now
		if from >= to {
			return 0, 0, httpx.BadParameter("from", "must be in the past when to is absent")
		}
	}
	if from == 0 {
		from = to - span.Milliseconds()
	}
	if to <= from {
		return 0, 0, httpx.BadParameter("to", "must be after from")
	}
	return from, to, nil
}

// window reads from, to and step. Without a step it picks a nice one for
// about target buckets. A step of whole minutes aligns From down to a
// multiple of itself, so that buckets fall on clock boundaries and the
// store answers from its one-minute rollup.
func (p *params) window(now int64, span time.Duration, target int) (window, error) {
	from, to, err := p.timeRange(now, span)
	if err != nil {
		return window{}, err
	}
	step, err := p.step()
	if err != nil {
		return window{}, err
	}
	if step == 0 {
		step = niceStep((to - from) / int64(target))
	}
	if step%store.RollupStep == 0 {
		from -= from % step
	}
	w := window{From: from, To: to, Step: step}
	if w.buckets() > maxBuckets {
		return window{}, httpx.BadParameter("step", "makes "+strconv.Itoa(w.buckets())+" buckets of this range; at most "+strconv.Itoa(maxBuckets)+" are allowed")
	}
	return w, nil
}

// step reads a step as milliseconds or a Go duration ("1m", "90s"); 0
// when absent.
func (p *params) step() (int64, error) {
	s, err := p.Str("step")
	if err != nil || s == "" {
		return 0, err
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		d, ok := httpx.ParseDuration(s)
		if !ok {
			return 0, httpx.BadParameter("step", "must be milliseconds or a duration such as 30s, 5m or 1d")
		}
		ms = d.Milliseconds()
	}
	if ms < 1 {
		return 0, httpx.BadParameter("step", "must be at least 1ms")
	}
	return ms, nil
}

func niceStep(raw int64) int64 {
	raw = max(raw, minAutoStep)
	for _, s := range niceSteps {
		if s >= raw {
			return s
		}
	}
	day := niceSteps[len(niceSteps)-1]
	return (raw + day - 1) / day * day
}
