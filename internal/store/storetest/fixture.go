package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// baseTime is the first timestamp the scenarios use (2025-06-15, unix ms).
const baseTime int64 = 1_750_000_000_000

// fixture is one scenario's store and tenant.
type fixture struct {
	t      *testing.T
	s      store.Store
	tenant string
}

func newFixture(t *testing.T, s store.Store) *fixture {
	return &fixture{t: t, s: s, tenant: uniqueTenant(t, "")}
}

// other returns a fixture on the same store under another tenant.
func (f *fixture) other(suffix string) *fixture {
	return &fixture{t: f.t, s: f.s, tenant: uniqueTenant(f.t, suffix)}
}

// uniqueTenant names a tenant after the running test and the current
// time, so that runs against a long-lived server never meet old rows.
func uniqueTenant(t testing.TB, suffix string) string {
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	return fmt.Sprintf("%s%s-%d", name, suffix, time.Now().UnixNano())
}

func (f *fixture) ctx() context.Context { return f.t.Context() }

// event returns a progress event of the fixture's tenant with the fields
// the store requires; opts fill in the rest.
func (f *fixture) event(taskID, eventID string, ts int64, status schema.Status, opts ...func(*schema.Progress)) schema.Progress {
	return eventOf(f.tenant, taskID, eventID, ts, status, opts...)
}

func eventOf(tenant, taskID, eventID string, ts int64, status schema.Status, opts ...func(*schema.Progress)) schema.Progress {
	e := schema.Progress{Tenant: tenant, TaskID: taskID, EventID: eventID, Timestamp: ts, Status: status}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func withProgress(p float64) func(*schema.Progress) {
	return func(e *schema.Progress) { e.Progress = &p }
}

func withOrder(seq, ingestOrder int64) func(*schema.Progress) {
	return func(e *schema.Progress) { e.Seq, e.IngestOrder = seq, ingestOrder }
}

func withMessage(m string) func(*schema.Progress) {
	return func(e *schema.Progress) { e.Message = m }
}

func withOwner(userID, taskType string) func(*schema.Progress) {
	return func(e *schema.Progress) { e.UserID, e.TaskType = userID, taskType }
}

func (f *fixture) insert(events ...schema.Progress) {
	f.t.Helper()
	require.NoError(f.t, f.s.InsertProgress(f.ctx(), events))
}

func (f *fixture) task(taskID string) store.Task {
	f.t.Helper()
	task, err := f.s.Task(f.ctx(), f.tenant, taskID)
	require.NoError(f.t, err)
	return task
}

// allEvents reads a task's whole timeline, a small page at a time so that
// paging is exercised by every scenario that reads one.
func (f *fixture) allEvents(tenant, taskID string) []schema.Progress {
	f.t.Helper()
	var all []schema.Progress
	var after *store.EventCursor
	for {
		page, err := f.s.TaskEvents(f.ctx(), tenant, taskID, store.EventFilter{After: after, Limit: 3})
		require.NoError(f.t, err)
		all = append(all, page...)
		if len(page) < 3 {
			return all
		}
		last := page[len(page)-1]
		after = &store.EventCursor{Timestamp: last.Timestamp, Seq: last.Seq, IngestOrder: last.IngestOrder, EventID: last.EventID}
		require.Less(f.t, len(all), 100_000, "timeline paging does not end")
	}
}

// tasks lists with filter and returns the task ids in the order listed.
func (f *fixture) taskIDs(filter store.TaskFilter) []string {
	f.t.Helper()
	tasks, err := f.s.Tasks(f.ctx(), filter)
	require.NoError(f.t, err)
	ids := make([]string, len(tasks))
	for i, task := range tasks {
		require.Equal(f.t, filter.Tenant, task.Tenant, "task %s listed for another tenant", task.TaskID)
		ids[i] = task.TaskID
	}
	return ids
}

// requireTasks checks every task of the fixture's tenant against the
// expected state of events.
func (f *fixture) requireTasks(events []schema.Progress) {
	f.t.Helper()
	want := expectTasks(events)
	for id, w := range want {
		require.Equal(f.t, w, f.task(id), "task %s", id)
	}
	tasks, err := f.s.Tasks(f.ctx(), store.TaskFilter{Tenant: f.tenant, Limit: len(want) + 10})
	require.NoError(f.t, err)
	require.Len(f.t, tasks, len(want))
}
