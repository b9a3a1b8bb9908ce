package storetest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// randomHistory makes n events over a few tasks whose order keys collide
// often: few distinct timestamps, seqs and ingest orders, and event ids
// whose byte order has nothing to do with the order they were made in.
func randomHistory(rng *rand.Rand, tenant string, n int) []schema.Progress {
	events := make([]schema.Progress, n)
	for i := range events {
		status := schema.Statuses[rng.IntN(len(schema.Statuses))]
		e := eventOf(tenant, fmt.Sprintf("task-%d", rng.IntN(4)), fmt.Sprintf("%08x-%d", rng.Uint32(), i),
			baseTime+rng.Int64N(6)*1000, status, withOrder(rng.Int64N(3), rng.Int64N(3)))
		if rng.IntN(2) == 0 {
			e.Progress = new(float64(rng.IntN(101)))
		}
		if rng.IntN(3) == 0 {
			e.ETA = new(rng.Int64N(600))
		}
		e.UserID = fmt.Sprintf("user-%d", i)
		e.TaskName = fmt.Sprintf("name-%d", i)
		e.Message = fmt.Sprintf("message %d", i)
		e.StepsDone, e.StepsTotal = int64(i), int64(n)
		e.Attributes = map[string]string{"event": fmt.Sprint(i)}
		events[i] = e
	}
	return events
}

// testOrderIndependence inserts one history in several shuffled orders and
// batch sizes, each under its own tenant, redelivering part of it, and
// expects every task to match the fold of the history.
func testOrderIndependence(t *testing.T, f *fixture) {
	rng := rand.New(rand.NewPCG(1, 2))
	history := randomHistory(rng, "", 120)
	var states []map[string]store.Task
	for run := range 4 {
		g := *f
		g.tenant = uniqueTenant(t, fmt.Sprintf("-run%d", run))
		events := make([]schema.Progress, len(history))
		for i, e := range history {
			e.Tenant = g.tenant
			events[i] = e
		}
		shuffled := append([]schema.Progress(nil), events...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for len(shuffled) > 0 {
			n := min(len(shuffled), 1+rng.IntN(40))
			g.insert(shuffled[:n]...)
			if rng.IntN(3) == 0 {
				g.insert(shuffled[:n/2]...) // redelivered half batch
			}
			shuffled = shuffled[n:]
		}
		g.requireTasks(events)
		got := make(map[string]store.Task)
		for id := range expectTasks(events) {
			task := g.task(id)
			task.Tenant = ""
			got[id] = task
			require.Equal(t, expectEvents(eventsOfTask(events, id)), g.allEvents(g.tenant, id))
		}
		states = append(states, got)
	}
	for _, s := range states[1:] {
		require.Equal(t, states[0], s, "two insertion orders gave different states")
	}
}

// testTieBreaks checks each level of the order key on its own: events in
// one millisecond are ordered by seq, then ingest order, then event id,
// whatever order they arrive in.
func testTieBreaks(t *testing.T, f *fixture) {
	ts := baseTime + 500
	// Each loser arrives first, so that the winner must replace it.
	f.insert(
		f.event("by-seq", "seq-y", ts, schema.StatusRunning, withOrder(1, 9), withMessage("loser")),
		f.event("by-ingest", "ingest-y", ts, schema.StatusRunning, withOrder(1, 1), withMessage("loser")),
		f.event("by-id", "id-B", ts, schema.StatusRunning, withOrder(1, 1), withMessage("loser")),
		f.event("by-ts", "ts-z", ts, schema.StatusRunning, withOrder(9, 9), withMessage("loser")),
	)
	f.insert(
		// seq decides: the higher seq wins though its ingest order is lower.
		f.event("by-seq", "seq-z", ts, schema.StatusRunning, withOrder(2, 1), withMessage("winner")),
		// ingest order decides when seq ties.
		f.event("by-ingest", "ingest-z", ts, schema.StatusRunning, withOrder(1, 2), withMessage("winner")),
		// event id decides when all else ties; it compares as bytes.
		f.event("by-id", "id-b", ts, schema.StatusRunning, withOrder(1, 1), withMessage("winner")),
		// timestamp beats everything after it.
		f.event("by-ts", "ts-a", ts+1, schema.StatusRunning, withMessage("winner")),
	)
	for _, id := range []string{"by-seq", "by-ingest", "by-id", "by-ts"} {
		require.Equal(t, "winner", f.task(id).Message, "task %s", id)
	}
	// Losers arriving after the winners change nothing.
	f.insert(
		f.event("by-seq", "seq-x", ts, schema.StatusFailed, withOrder(1, 9), withMessage("late loser")),
		f.event("by-id", "id-A", ts, schema.StatusFailed, withOrder(1, 1), withMessage("late loser")),
	)
	require.Equal(t, "winner", f.task("by-seq").Message)
	require.Equal(t, "winner", f.task("by-id").Message)
}

// testProgressCarried checks that an event without progress keeps the
// progress of the latest event that had one, wherever it arrives.
func testProgressCarried(t *testing.T, f *fixture) {
	events := []schema.Progress{
		f.event("a", "e1", baseTime, schema.StatusRunning, withProgress(10)),
		f.event("a", "e2", baseTime+1000, schema.StatusRunning, withProgress(50)),
		f.event("a", "e3", baseTime+2000, schema.StatusPaused),
		f.event("a", "e4", baseTime+1000, schema.StatusRunning, withOrder(1, 0), withProgress(60)),
	}
	f.insert(events[2])
	task := f.task("a")
	require.Equal(t, 0.0, task.Progress)
	require.Zero(t, task.ProgressAt, "no event carried progress yet")

	// The latest progress arrives first; the earlier ones must not replace it.
	f.insert(events[3])
	f.insert(events[0])
	f.insert(events[1])
	task = f.task("a")
	require.Equal(t, schema.StatusPaused, task.Status)
	require.Equal(t, 60.0, task.Progress, "e4 ties e2 on timestamp and wins on seq")
	require.Equal(t, baseTime+1000, task.ProgressAt)
	require.Equal(t, baseTime+2000, task.UpdatedAt)
	f.requireTasks(events)
}

// testCreatedAndStarted checks CreatedAt (earliest event) and StartedAt
// (earliest running event), with events arriving latest first.
func testCreatedAndStarted(t *testing.T, f *fixture) {
	events := []schema.Progress{
		f.event("a", "e4", baseTime+4000, schema.StatusCompleted),
		f.event("a", "e3", baseTime+3000, schema.StatusRunning),
		f.event("a", "e2", baseTime+2000, schema.StatusRunning),
		f.event("a", "e1", baseTime+1000, schema.StatusPending),
		f.event("never-ran", "e5", baseTime+500, schema.StatusPending),
		f.event("never-ran", "e6", baseTime+600, schema.StatusCancelled),
	}
	for _, e := range events {
		f.insert(e)
	}
	a := f.task("a")
	require.Equal(t, baseTime+1000, a.CreatedAt)
	require.NotNil(t, a.StartedAt)
	require.Equal(t, baseTime+2000, *a.StartedAt)
	require.Equal(t, baseTime+4000, a.UpdatedAt)

	never := f.task("never-ran")
	require.Equal(t, baseTime+500, never.CreatedAt)
	require.Nil(t, never.StartedAt)
	f.requireTasks(events)
}
