package eta

import (
	"math"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Source says where an estimate came from.
type Source string

// The sources, best first.
const (
	// SourceHistory: the completed runs of the task's type, blended with
	// the task's own speed.
	SourceHistory Source = "history"
	// SourceClient: the eta the client sent with its latest report.
	SourceClient Source = "client"
	// SourceRate: the task's progress rate since its start.
	SourceRate Source = "rate"
)

// Task is what an estimate needs of a task's current state.
type Task struct {
	Tenant, Type, Step string
	Status             schema.Status
	Progress           float64 // percent, of the latest report that carried it
	// Start is when the task started running (else was created),
	// ProgressAt the time of its latest progress report (0 for none),
	// UpdatedAt that of its latest event; unix ms.
	Start, ProgressAt, UpdatedAt int64
	// ClientETA is the eta of the latest event, seconds left then.
	ClientETA *int64
}

// TaskOf is the Task of a task's current state as the store keeps it.
func TaskOf(t *store.Task) Task {
	start := t.CreatedAt
	if t.StartedAt != nil {
		start = *t.StartedAt
	}
	return Task{
		Tenant: t.Tenant, Type: t.TaskType, Step: t.CurrentStep, Status: t.Status, Progress: t.Progress,
		Start: start, ProgressAt: t.ProgressAt, UpdatedAt: t.UpdatedAt, ClientETA: t.ETA,
	}
}

// Estimate is the time a task has left, as of now.
type Estimate struct {
	// ETA is the seconds left, nil when Overdue or unknown.
	ETA *int64
	// Overdue says the time the estimate gave has run out.
	Overdue bool
	// P50 and P90 bound the time left from history: half of the type's
	// runs needed at most P50 seconds more, nine in ten at most P90.
	// Set with SourceHistory only, each while it has not run out.
	P50, P90 *int64
	// Source is empty when nothing can be estimated: the task ended, or
	// it has no history, eta or rate.
	Source Source
}

// Estimate returns the time t has left at now, unix ms. Only a running
// task's estimate counts down: a pending or paused one keeps what it had
// left when it stopped moving.
func (m *Model) Estimate(t Task, now int64) Estimate {
	if t.Status.Terminal() {
		return Estimate{}
	}
	since := func(at int64) int64 {
		if t.Status != schema.StatusRunning {
			return 0
		}
		return max(0, now-at)
	}
	at := t.ProgressAt
	if at == 0 {
		at = t.UpdatedAt
	}
	if p50, p90, ok := m.history(t); ok {
		s := since(at)
		e := countdown(p50, s, SourceHistory)
		e.P50, e.P90 = e.ETA, seconds(p90-float64(s))
		return e
	}
	if t.ClientETA != nil {
		return countdown(float64(*t.ClientETA)*1000, since(t.UpdatedAt), SourceClient)
	}
	if left, ok := byRate(t); ok {
		return countdown(left, since(t.ProgressAt), SourceRate)
	}
	return Estimate{}
}

// countdown is an estimate of left ms made since ms ago.
func countdown(left float64, since int64, src Source) Estimate {
	e := Estimate{Source: src, ETA: seconds(left - float64(since))}
	e.Overdue = e.ETA == nil
	return e
}

// seconds rounds ms up to whole seconds; nil when none is left.
func seconds(ms float64) *int64 {
	if ms <= 0 {
		return nil
	}
	s := int64(math.Ceil(ms / 1000))
	return &s
}

// byRate extrapolates the progress rate from the start to the latest
// progress report.
func byRate(t Task) (float64, bool) {
	elapsed := float64(t.ProgressAt - t.Start)
	if t.ProgressAt == 0 || elapsed <= 0 || t.Progress <= 0 || t.Progress >= 100 {
		return 0, false
	}
	return elapsed * (100 - t.Progress) / t.Progress, true
}

// history estimates the ms left at t's latest progress report, its median
// and 90th percentile, from the runs of its type (of its step where it has
// enough of them) at the two edges around its progress, interpolated.
//
// It reads the history two ways: the time the runs still had at that
// progress, and the task's own elapsed time times the runs' pace there
// (time left per time run), which follows a task faster or slower than
// most. Each reading is weighed by how tightly the runs agree on it (the
// inverse square of its log spread), so the pace wins where a type's runs
// keep one shape whatever their length, more so as a run advances, and
// the time left wins where the shape varies. The 90th percentile lies
// the tighter reading's spread above the median.
func (m *Model) history(t Task) (p50, p90 float64, ok bool) {
	if m == nil || t.Progress >= 100 {
		return 0, 0, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ten := m.tenants[t.Tenant]
	if ten == nil {
		return 0, 0, false
	}
	prof := ten.types[t.Type]
	if prof == nil {
		return 0, 0, false
	}
	i := int(t.Progress / edgeStep)
	lo, ok := prof.quantiles(i, t.Step)
	if !ok {
		return 0, 0, false
	}
	hi := quantiles{paced: lo.paced} // at 100 %, nothing is left
	if i+1 < edges {
		if hi, ok = prof.quantiles(i+1, t.Step); !ok {
			return 0, 0, false
		}
	}
	f := (t.Progress - float64(i*edgeStep)) / edgeStep
	h := quantiles{
		r50: lerp(lo.r50, hi.r50, f), r90: lerp(lo.r90, hi.r90, f),
		pace50: lerp(lo.pace50, hi.pace50, f), pace90: lerp(lo.pace90, hi.pace90, f),
		paced: lo.paced && hi.paced,
	}
	if h.r50 <= 0 {
		return 0, 0, true // the runs were done by now
	}
	p50, s := h.r50, spread(h.r50, h.r90)
	if elapsed := float64(t.ProgressAt - t.Start); t.ProgressAt > 0 && elapsed > 0 && h.paced && h.pace50 > 0 {
		own, ownS := elapsed*h.pace50, spread(h.pace50, h.pace90)
		w, ownW := 1/(s*s), 1/(ownS*ownS)
		p50 = math.Exp((w*math.Log(p50) + ownW*math.Log(own)) / (w + ownW))
		s = min(s, ownS)
	}
	return p50, p50 * math.Exp(z90*s), true
}

// z90 is the 90th percentile of the standard normal distribution: a
// log-normal's 90th percentile lies z90 spreads above its median.
const z90 = 1.2816

// spread is the log spread a median and 90th percentile imply, at least
// minSpread so that no reading is taken as certain.
func spread(q50, q90 float64) float64 {
	const minSpread = 0.05
	if q50 <= 0 || q90 <= q50 {
		return minSpread
	}
	return max(math.Log(q90/q50)/z90, minSpread)
}

// quantiles reads edge i of the step's runs when it has MinRuns of them,
// else of the type's.
func (p *profile) quantiles(i int, step string) (quantiles, bool) {
	if s := p.steps[step]; s != nil && s[i] != nil && s[i].n >= MinRuns {
		return s[i].quantiles(), true
	}
	if w := p.all[i]; w != nil && w.n >= MinRuns {
		return w.quantiles(), true
	}
	return quantiles{}, false
}

func lerp(a, b, f float64) float64 { return a + (b-a)*f }
