package storetest

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// RunDeletion runs the scenarios of deleting a task by its tombstone, a
// progress event with status "deleted", against stores returned by open,
// as Run does. Each checks every read against the records the deletion
// leaves: the deleted task's events after the tombstone's order key, and
// its logs and samples after the tombstone's millisecond.
func RunDeletion(t *testing.T, open func(t testing.TB) store.Store) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, f *fixture)
	}{
		{"DeletionHidesTask", testDeletionHidesTask},
		{"DeletionDropsLateOlderRecords", testDeletionDropsLateOlderRecords},
		{"DeletionNewerEventStartsNewTask", testDeletionNewerEventStartsNewTask},
		{"DeletionOrderIndependence", testDeletionOrderIndependence},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			sc.run(t, newFixture(t, open(t)))
		})
	}
}

const (
	doomedTask = "doomed"
	keptTask   = "kept"
	// deletedAt is the tombstone's timestamp, in the second rollup
	// minute of the samples.
	deletedAt = metricBase + 90_000
)

// deletionHistory is what a tenant reports about a task deleted in the
// middle of its life, and about another task beside it: old records, at
// or before the tombstone (one in its very millisecond, ordered before it
// by seq), and new ones after it (one in the same millisecond, ordered
// after it).
type deletionHistory struct {
	tomb     schema.Progress
	old, new []schema.Progress // the deleted task's events
	kept     []schema.Progress
	oldLogs  []schema.Log
	newLogs  []schema.Log
	keptLogs []schema.Log
	oldSamp  []schema.Metric
	newSamp  []schema.Metric
	keptSamp []schema.Metric
}

func (f *fixture) deletionHistory() deletionHistory {
	ev := func(task, id string, ts int64, status schema.Status, opts ...func(*schema.Progress)) schema.Progress {
		return f.event(task, id, ts, status, append(opts, withOwner("u-1", "scrape"))...)
	}
	lg := func(task, id string, ts int64) schema.Log {
		return f.log(id, ts, schema.LevelError, "record "+id, logOwner(task, "u-1", "worker"))
	}
	sample := func(task, id string, ts int64, v float64) schema.Metric {
		return schema.Metric{Tenant: f.tenant, EventID: id, Timestamp: ts, Name: metricName, Kind: schema.KindGauge,
			Value: v, Labels: map[string]string{"route": "/a"}, TaskID: task}
	}
	return deletionHistory{
		tomb: ev(doomedTask, "tomb", deletedAt, schema.StatusDeleted, withOrder(2, 0)),
		old: []schema.Progress{
			ev(doomedTask, "d1", metricBase+1000, schema.StatusPending),
			ev(doomedTask, "d2", metricBase+2000, schema.StatusRunning, withProgress(10)),
			ev(doomedTask, "d3", metricBase+60_000, schema.StatusRunning, withProgress(50)),
			ev(doomedTask, "d4", deletedAt, schema.StatusFailed, withOrder(1, 9)),
		},
		new: []schema.Progress{
			ev(doomedTask, "n1", deletedAt, schema.StatusPending, withOrder(3, 0)),
			ev(doomedTask, "n2", deletedAt+5000, schema.StatusRunning, withProgress(5), withMessage("again")),
		},
		kept: []schema.Progress{
			ev(keptTask, "k1", metricBase+500, schema.StatusRunning),
			ev(keptTask, "k2", metricBase+150_000, schema.StatusCompleted, withProgress(100)),
		},
		oldLogs:  []schema.Log{lg(doomedTask, "dl1", metricBase+1500), lg(doomedTask, "dl2", deletedAt)},
		newLogs:  []schema.Log{lg(doomedTask, "nl1", deletedAt+1)},
		keptLogs: []schema.Log{lg(keptTask, "kl1", metricBase+1500), lg("", "free", metricBase+1600)},
		oldSamp:  []schema.Metric{sample(doomedTask, "ds1", metricBase+10_000, 500), sample(doomedTask, "ds2", deletedAt, 700)},
		newSamp:  []schema.Metric{sample(doomedTask, "ns1", deletedAt+1, 3)},
		keptSamp: []schema.Metric{
			sample(keptTask, "ks1", metricBase+20_000, 1), sample(keptTask, "ks2", metricBase+80_000, 2),
			sample("", "ks3", metricBase+95_000, 4),
		},
	}
}

// insertRecords inserts events, logs and samples in one batch each.
func (f *fixture) insertRecords(events []schema.Progress, logs []schema.Log, samples []schema.Metric) {
	f.t.Helper()
	f.insert(events...)
	f.insertLogs(logs...)
	f.insertMetrics(samples...)
}

// requireDeleted checks every read of the fixture's tenant against the
// records that stand after the deletion: kept's, and those of newer.
func (f *fixture) requireDeleted(h deletionHistory, withNew bool) {
	f.t.Helper()
	t := f.t
	events, logs, samples := slices.Concat(h.kept), slices.Concat(h.keptLogs), slices.Concat(h.keptSamp)
	if withNew {
		events, logs, samples = append(events, h.new...), append(logs, h.newLogs...), append(samples, h.newSamp...)
	}
	want := expectTasks(events)

	for id, w := range want {
		require.Equal(t, w, f.task(id), "task %s", id)
	}
	if _, ok := want[doomedTask]; !ok {
		_, err := f.s.Task(f.ctx(), f.tenant, doomedTask)
		require.ErrorIs(t, err, store.ErrNotFound, "the deleted task is still read")
	}
	require.ElementsMatch(t, slices.Collect(maps.Keys(want)), f.taskIDs(store.TaskFilter{Tenant: f.tenant, Limit: 10}), "listing")
	require.ElementsMatch(t, slices.Collect(maps.Keys(want)), f.streamedTaskIDs(), "export of tasks")
	require.Equal(t, eventIDs(expectEvents(eventsOfTask(events, doomedTask))), eventIDs(f.allEvents(f.tenant, doomedTask)), "timeline")

	require.Equal(t, logIDs(expectLogs(logs)), logIDs(f.logs(store.LogFilter{})), "logs")
	require.Equal(t, logIDs(expectLogs(logsOfTask(logs, doomedTask))), logIDs(f.logs(store.LogFilter{TaskID: doomedTask})), "logs of the task")

	for _, shape := range []int{0, 3} { // the rollup, and the raw samples
		s := seriesShapes[shape]
		for _, agg := range []store.Aggregation{store.AggSum, store.AggCount, store.AggMin, store.AggMax, store.AggLast} {
			q := store.SeriesQuery{Tenant: f.tenant, Name: metricName, From: s.from, To: s.to, Step: s.step, Agg: agg}
			requireSeries(t, expectSeries(samples, q), agg, f.series(q), fmt.Sprintf("%s %s", s.name, agg))
		}
	}

	st, err := f.s.Stats(f.ctx(), store.StatsQuery{Tenant: f.tenant, From: baseTime, To: deletedAt + 3_600_000, Step: 3_600_000})
	require.NoError(t, err)
	byStatus := map[schema.Status]int64{}
	for _, w := range want {
		byStatus[w.Status]++
	}
	require.Equal(t, byStatus, st.ByStatus, "tasks by status")
	var errorLogs float64
	for _, p := range st.ErrorLogs {
		errorLogs += p.V
	}
	require.Equal(t, float64(len(expectLogs(logs))), errorLogs, "error logs") // every record is an ERROR
}

func (f *fixture) streamedTaskIDs() []string {
	f.t.Helper()
	var ids []string
	require.NoError(f.t, f.s.StreamTasks(f.ctx(), store.TaskFilter{Tenant: f.tenant}, func(t store.Task) error {
		ids = append(ids, t.TaskID)
		return nil
	}))
	return ids
}

func eventIDs(events []schema.Progress) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.EventID
	}
	return ids
}

func logsOfTask(logs []schema.Log, taskID string) []schema.Log {
	var out []schema.Log
	for _, l := range logs {
		if l.TaskID == taskID {
			out = append(out, l)
		}
	}
	return out
}

// testDeletionHidesTask deletes a task after its records are stored:
// every read leaves it out, and the task beside it is untouched.
func testDeletionHidesTask(t *testing.T, f *fixture) {
	h := f.deletionHistory()
	f.insertRecords(slices.Concat(h.old, h.kept), slices.Concat(h.oldLogs, h.keptLogs), slices.Concat(h.oldSamp, h.keptSamp))
	f.insert(h.tomb)
	f.requireDeleted(h, false)
}

// testDeletionDropsLateOlderRecords stores the tombstone first: records of
// the task from before it, arriving later, are dropped, even one in the
// tombstone's own millisecond.
func testDeletionDropsLateOlderRecords(t *testing.T, f *fixture) {
	h := f.deletionHistory()
	f.insert(h.tomb)
	f.insertRecords(slices.Concat(h.old, h.kept), slices.Concat(h.oldLogs, h.keptLogs), slices.Concat(h.oldSamp, h.keptSamp))
	f.requireDeleted(h, false)
}

// testDeletionNewerEventStartsNewTask reports the task again after its
// deletion: it is a new task made of the newer records only, whether they
// arrive after the tombstone or before it.
func testDeletionNewerEventStartsNewTask(t *testing.T, f *fixture) {
	h := f.deletionHistory()
	f.insertRecords(slices.Concat(h.old, h.kept), slices.Concat(h.oldLogs, h.keptLogs), slices.Concat(h.oldSamp, h.keptSamp))
	f.insert(h.tomb)
	f.insertRecords(h.new, h.newLogs, h.newSamp)
	f.requireDeleted(h, true)

	g := f.other("-newer-first")
	h = g.deletionHistory()
	g.insertRecords(slices.Concat(h.new, h.old, h.kept), slices.Concat(h.newLogs, h.oldLogs, h.keptLogs),
		slices.Concat(h.newSamp, h.oldSamp, h.keptSamp))
	g.insert(h.tomb)
	g.requireDeleted(h, true)
}

// testDeletionOrderIndependence inserts the whole history in shuffled
// batches, the tombstone among the events, redelivering batches and the
// tombstone and adding an older tombstone of the same task, under a tenant
// per run: every run must end in the same state.
func testDeletionOrderIndependence(t *testing.T, f *fixture) {
	rng := rand.New(rand.NewPCG(21, 22))
	for run := range 4 {
		g := f.other(fmt.Sprintf("-run%d", run))
		h := g.deletionHistory()
		older := g.event(doomedTask, "older-tomb", metricBase+1500, schema.StatusDeleted)
		events := slices.Concat(h.old, h.new, h.kept, []schema.Progress{h.tomb, h.tomb, older})
		logs := slices.Concat(h.oldLogs, h.newLogs, h.keptLogs)
		samples := slices.Concat(h.oldSamp, h.newSamp, h.keptSamp)
		rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
		rng.Shuffle(len(logs), func(i, j int) { logs[i], logs[j] = logs[j], logs[i] })
		rng.Shuffle(len(samples), func(i, j int) { samples[i], samples[j] = samples[j], samples[i] })
		for len(events)+len(logs)+len(samples) > 0 {
			n := 1 + rng.IntN(3)
			take := func(l int) int { return min(l, n) }
			ne, nl, ns := take(len(events)), take(len(logs)), take(len(samples))
			g.insertRecords(events[:ne], logs[:nl], samples[:ns])
			if rng.IntN(3) == 0 {
				g.insertRecords(events[:ne], logs[:nl], samples[:ns]) // redelivered
			}
			events, logs, samples = events[ne:], logs[nl:], samples[ns:]
		}
		g.requireDeleted(h, true)
	}
}
