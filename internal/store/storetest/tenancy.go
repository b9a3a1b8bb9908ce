package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// testTenantIsolation stores the same task id and the same event ids under
// two tenants and checks that every read sees only its own tenant's rows.
func testTenantIsolation(t *testing.T, f *fixture) {
	other := *f
	other.tenant = uniqueTenant(t, "-other")
	mine := []schema.Progress{
		f.event("shared", "e1", baseTime, schema.StatusRunning, withProgress(10), withOwner("alice", "scrape")),
		f.event("shared", "e2", baseTime+10, schema.StatusRunning, withProgress(20), withOwner("alice", "scrape")),
		f.event("mine-only", "e3", baseTime+20, schema.StatusPending, withOwner("alice", "scrape")),
	}
	theirs := []schema.Progress{
		other.event("shared", "e1", baseTime+5, schema.StatusFailed, withProgress(90), withOwner("bob", "build")),
	}
	f.insert(append(mine, theirs...)...) // one batch spanning both tenants

	f.requireTasks(mine)
	other.requireTasks(theirs)
	require.Equal(t, int64(1), other.task("shared").Events, "the same event id under another tenant is another event")
	require.Len(t, f.allEvents(f.tenant, "shared"), 2)
	require.Equal(t, expectEvents(theirs), f.allEvents(other.tenant, "shared"))

	_, err := f.s.Task(f.ctx(), other.tenant, "mine-only")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Empty(t, f.allEvents(other.tenant, "mine-only"))
	require.Equal(t, []string{"shared"}, other.taskIDs(taskFilter(other.tenant)))
	require.Empty(t, other.taskIDs(store.TaskFilter{Tenant: other.tenant, UserID: "alice", Limit: 10}))
	require.Empty(t, other.taskIDs(store.TaskFilter{Tenant: other.tenant, TaskIDs: []string{"mine-only"}, Limit: 10}))
}

// testNotFound checks the answers for a task that does not exist.
func testNotFound(t *testing.T, f *fixture) {
	f.insert(f.event("exists", "e1", baseTime, schema.StatusRunning))
	_, err := f.s.Task(f.ctx(), f.tenant, "missing")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = f.s.Task(f.ctx(), uniqueTenant(t, "-nobody"), "exists")
	require.ErrorIs(t, err, store.ErrNotFound)
	events, err := f.s.TaskEvents(f.ctx(), f.tenant, "missing", store.EventFilter{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, events)
}
