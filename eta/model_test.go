package eta

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

const t0 = int64(1_790_000_000_000) // unix ms

// frontLoaded is a run shape whose first half of progress takes 80 % of
// the time: the share of the run done at progress p (0–1).
func frontLoaded(p float64) float64 {
	if p <= 0.5 {
		return p / 0.5 * 0.8
	}
	return 0.8 + (p-0.5)/0.5*0.2
}

// timeline is a run of typ from start lasting duration ms, reporting every
// 5 % of progress, in one of two steps (below and above 50 %), and
// completing at the end. shape maps progress to the share of time done.
func timeline(tenant, id, typ string, start, duration int64, shape func(float64) float64) []schema.Progress {
	var out []schema.Progress
	for p := 0; p < 100; p += 5 {
		step := "first half"
		if p >= 50 {
			step = "second half"
		}
		progress := float64(p)
		out = append(out, schema.Progress{
			Tenant: tenant, TaskID: id, TaskType: typ, Status: schema.StatusRunning, CurrentStep: step,
			Timestamp: start + int64(shape(progress/100)*float64(duration)), Progress: &progress,
		})
	}
	done := 100.0
	return append(out, schema.Progress{Tenant: tenant, TaskID: id, TaskType: typ, Status: schema.StatusCompleted,
		CurrentStep: "second half", Timestamp: start + duration, Progress: &done})
}

// learnRuns observes n completed runs of typ, of durations spread around
// median by a log-normal of sigma.
func learnRuns(m *Model, rng *rand.Rand, tenant, typ string, n int, median, sigma float64) {
	for i := range n {
		d := int64(median * math.Exp(sigma*rng.NormFloat64()))
		for _, e := range timeline(tenant, fmt.Sprintf("%s-%d", typ, i), typ, t0+int64(i)*3_600_000, d, frontLoaded) {
			m.Observe(&e)
		}
	}
}

// at is the state of a task after the events of tl up to progress p.
func at(tl []schema.Progress, p float64) Task {
	var t Task
	for _, e := range tl {
		if *e.Progress > p {
			break
		}
		t = Task{Tenant: e.Tenant, Type: e.TaskType, Step: e.CurrentStep, Status: e.Status, Progress: *e.Progress,
			Start: tl[0].Timestamp, ProgressAt: e.Timestamp, UpdatedAt: e.Timestamp}
	}
	return t
}

func TestHistoryBeatsRateOnTypedData(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := New(Config{})
	learnRuns(m, rng, "a", "scrape", 200, 600_000, 0.5)

	var histErr, rateErr float64
	for i := range 100 {
		d := int64(600_000 * math.Exp(0.5*rng.NormFloat64()))
		tl := timeline("a", fmt.Sprintf("new-%d", i), "scrape", t0, d, frontLoaded)
		for _, p := range []float64{25, 50, 75} {
			task := at(tl, p)
			truth := float64(t0+d-task.ProgressAt) / 1000
			h := m.Estimate(task, task.ProgressAt)
			require.Equal(t, SourceHistory, h.Source)
			r := (*Model)(nil).Estimate(task, task.ProgressAt)
			require.Equal(t, SourceRate, r.Source)
			histErr += math.Abs(float64(*h.ETA) - truth)
			rateErr += math.Abs(float64(*r.ETA) - truth)
		}
	}
	require.Less(t, histErr, rateErr/2, "history's total error against the rate's")
}

func TestFallsBackWithLittleHistory(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := New(Config{})
	learnRuns(m, rng, "a", "scrape", MinRuns-1, 600_000, 0.3)
	require.Equal(t, MinRuns-1, m.Runs("a", "scrape"))

	tl := timeline("a", "new", "scrape", t0, 600_000, frontLoaded)
	task := at(tl, 50)
	e := m.Estimate(task, task.ProgressAt)
	require.Equal(t, SourceRate, e.Source)
	require.Nil(t, e.P50)
	require.Nil(t, e.P90)

	eta := int64(42)
	task.ClientETA = &eta
	e = m.Estimate(task, task.ProgressAt)
	require.Equal(t, SourceClient, e.Source)
	require.Equal(t, int64(42), *e.ETA)

	for _, e := range timeline("a", "one more", "scrape", t0, 600_000, frontLoaded) {
		m.Observe(&e)
	}
	require.Equal(t, MinRuns, m.Runs("a", "scrape"))
	e = m.Estimate(task, task.ProgressAt)
	require.Equal(t, SourceHistory, e.Source)
	require.Equal(t, e.ETA, e.P50)
}

func TestCountsDownToOverdue(t *testing.T) {
	// 30 % in 30 s: 70 s left at the report.
	task := Task{Tenant: "a", Status: schema.StatusRunning, Progress: 30, Start: t0, ProgressAt: t0 + 30_000, UpdatedAt: t0 + 30_000}
	var m *Model
	f := func(now int64, wantETA int64, wantOverdue bool) {
		t.Helper()
		e := m.Estimate(task, now)
		require.Equal(t, SourceRate, e.Source)
		require.Equal(t, wantOverdue, e.Overdue)
		if wantOverdue {
			require.Nil(t, e.ETA)
			return
		}
		require.Equal(t, wantETA, *e.ETA)
	}
	f(task.ProgressAt, 70, false)
	f(task.ProgressAt+10_000, 60, false)
	f(task.ProgressAt+69_500, 1, false)
	f(task.ProgressAt+70_000, 0, true)
	f(task.ProgressAt+6*60_000, 0, true)

	// A paused task keeps what it had left; an ended one has no estimate.
	task.Status = schema.StatusPaused
	f(task.ProgressAt+6*60_000, 70, false)
	task.Status = schema.StatusCompleted
	require.Equal(t, Estimate{}, m.Estimate(task, task.ProgressAt))

	// The client's eta counts down from its report too.
	eta := int64(20)
	task = Task{Tenant: "a", Status: schema.StatusRunning, UpdatedAt: t0, ClientETA: &eta}
	require.Equal(t, int64(5), *m.Estimate(task, t0+15_000).ETA)
	require.True(t, m.Estimate(task, t0+21_000).Overdue)
}

func TestBandIsOrdered(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	m := New(Config{})
	learnRuns(m, rng, "a", "scrape", 150, 600_000, 0.8)
	for i := range 50 {
		d := int64(600_000 * math.Exp(0.8*rng.NormFloat64()))
		tl := timeline("a", fmt.Sprintf("new-%d", i), "scrape", t0, d, frontLoaded)
		for p := 0.0; p < 100; p += 5 {
			task := at(tl, p)
			for _, since := range []int64{0, 30_000, 300_000} {
				e := m.Estimate(task, task.ProgressAt+since)
				require.Equal(t, SourceHistory, e.Source)
				if e.P50 != nil {
					require.NotNil(t, e.P90)
					require.LessOrEqual(t, *e.P50, *e.P90, "at %v %%, %d ms after", p, since)
				}
			}
		}
	}
}

func TestTenantsAreApart(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m := New(Config{})
	learnRuns(m, rng, "a", "scrape", 50, 600_000, 0.3)
	task := at(timeline("b", "t", "scrape", t0, 600_000, frontLoaded), 40)
	require.Equal(t, SourceRate, m.Estimate(task, task.ProgressAt).Source)
	require.Zero(t, m.Runs("b", "scrape"))
	task.Tenant = "a"
	require.Equal(t, SourceHistory, m.Estimate(task, task.ProgressAt).Source)
}

func TestMemoryIsBounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	m := New(Config{MaxTypes: 2, MaxSteps: 1, MaxRunning: 3, Idle: time.Hour})
	learnRuns(m, rng, "a", "scrape", 3*Window, 60_000, 0.3)
	require.Equal(t, Window, m.Runs("a", "scrape"), "a window keeps the newest runs only")
	learnRuns(m, rng, "a", "package", 5, 60_000, 0.3)
	learnRuns(m, rng, "a", "upload", 5, 60_000, 0.3)
	require.Zero(t, m.Runs("a", "upload"), "types past MaxTypes are not learned")
	require.Len(t, m.tenants["a"].types["scrape"].steps, 1, "steps past MaxSteps are not learned")

	start := func(id string, ts int64) {
		m.Observe(&schema.Progress{Tenant: "b", TaskID: id, TaskType: "scrape", Status: schema.StatusRunning, Timestamp: ts})
	}
	for i := range 5 {
		start(fmt.Sprint("r", i), t0)
	}
	require.Len(t, m.tenants["b"].running, 3, "no more than MaxRunning followed")
	start("late", t0+2*time.Hour.Milliseconds())
	require.Len(t, m.tenants["b"].running, 1, "idle tasks make room")
}

func TestSeedFillsRoomAndCountsARunOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	m := New(Config{})
	learnRuns(m, rng, "a", "scrape", Window-2, 60_000, 0.3)
	observed := timeline("a", "scrape-0", "scrape", t0, 60_000, frontLoaded)
	require.False(t, m.Seed("a", observed), "a run observed already")
	require.True(t, m.Seed("a", timeline("a", "old-1", "scrape", t0, 60_000, frontLoaded)))
	require.True(t, m.Seed("a", timeline("a", "old-2", "scrape", t0, 60_000, frontLoaded)))
	require.False(t, m.Seed("a", timeline("a", "old-3", "scrape", t0, 60_000, frontLoaded)), "a full window keeps observed runs")
	require.Equal(t, Window, m.Runs("a", "scrape"))
	failed := timeline("a", "old-4", "scrape", t0, 60_000, frontLoaded)
	failed[len(failed)-1].Status = schema.StatusFailed
	require.False(t, m.Seed("b", failed), "only completed runs are learned")
}

func TestRunsSeenLateAreNotLearned(t *testing.T) {
	m := New(Config{})
	for i := range MinRuns {
		tl := timeline("a", fmt.Sprint("t", i), "scrape", t0, 60_000, frontLoaded)
		for _, e := range tl[len(tl)/2:] { // joined half way
			_, followed := m.Observe(&e)
			require.False(t, followed)
		}
	}
	require.Zero(t, m.Runs("a", "scrape"))
}

func TestObserveTellsTheFollowedTask(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	m := New(Config{})
	learnRuns(m, rng, "a", "scrape", MinRuns, 600_000, 0.3)
	tl := timeline("a", "live", "scrape", t0, 600_000, frontLoaded)
	for _, e := range tl[:len(tl)-1] {
		task, followed := m.Observe(&e)
		require.True(t, followed)
		require.Equal(t, at(tl, *e.Progress), task, "what the store would say")
		require.Equal(t, SourceHistory, m.Estimate(task, e.Timestamp).Source)
	}
	_, followed := m.Observe(&tl[len(tl)-1])
	require.False(t, followed, "a completed task is no longer followed")
}
