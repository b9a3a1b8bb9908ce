package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

// testRedelivery inserts the same batch twice, then a batch overlapping
// it, and expects every event counted once.
func testRedelivery(t *testing.T, f *fixture) {
	batch := []schema.Progress{
		f.event("a", "e1", baseTime, schema.StatusPending),
		f.event("a", "e2", baseTime+10, schema.StatusRunning, withProgress(10)),
		f.event("b", "e3", baseTime+20, schema.StatusRunning, withProgress(50)),
	}
	f.insert(batch...)
	once := map[string]any{"a": f.task("a"), "b": f.task("b")}

	f.insert(batch...)
	require.Equal(t, once, map[string]any{"a": f.task("a"), "b": f.task("b")}, "a redelivered batch changed a task")
	require.Len(t, f.allEvents(f.tenant, "a"), 2)

	more := []schema.Progress{batch[1], f.event("a", "e4", baseTime+30, schema.StatusCompleted, withProgress(100))}
	f.insert(more...)
	all := append(batch, more...)
	f.requireTasks(all)
	require.Equal(t, int64(3), f.task("a").Events)
	require.Len(t, f.allEvents(f.tenant, "a"), 3)
}

// testRedeliveryWithOtherContent re-sends stored event ids carrying other
// fields: the contract says nothing any query returns may change.
func testRedeliveryWithOtherContent(t *testing.T, f *fixture) {
	first := []schema.Progress{
		f.event("a", "e1", baseTime, schema.StatusRunning, withProgress(20)),
		f.event("a", "e2", baseTime+10, schema.StatusRunning, withProgress(40)),
	}
	f.insert(first...)
	before := f.task("a")
	f.insert(
		f.event("a", "e1", baseTime+99, schema.StatusFailed, withProgress(99), withMessage("impostor")),
		f.event("a", "e2", baseTime+50, schema.StatusCompleted),
	)
	require.Equal(t, before, f.task("a"))
	require.Equal(t, expectEvents(first), f.allEvents(f.tenant, "a"))
}

// testDuplicatesWithinBatch sends one event twice in the same batch.
func testDuplicatesWithinBatch(t *testing.T, f *fixture) {
	e1 := f.event("a", "e1", baseTime, schema.StatusRunning, withProgress(5))
	e2 := f.event("a", "e2", baseTime+1, schema.StatusRunning)
	f.insert(e1, e2, e1, e1)
	require.Equal(t, int64(2), f.task("a").Events)
	require.Len(t, f.allEvents(f.tenant, "a"), 2)
	f.requireTasks([]schema.Progress{e1, e2})
}

// testAllOrNothing sends a batch whose last event lacks its event id and
// expects an error and none of the batch stored.
func testAllOrNothing(t *testing.T, f *fixture) {
	bad := f.event("a", "", baseTime+1, schema.StatusRunning)
	err := f.s.InsertProgress(f.ctx(), []schema.Progress{
		f.event("a", "e1", baseTime, schema.StatusRunning),
		f.event("b", "e2", baseTime, schema.StatusRunning),
		bad,
	})
	require.Error(t, err)
	require.Empty(t, f.taskIDs(taskFilter(f.tenant)))
	require.Empty(t, f.allEvents(f.tenant, "a"))
}
