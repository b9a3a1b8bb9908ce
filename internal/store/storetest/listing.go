package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// taskFilter selects every task of a tenant.
func taskFilter(tenant string) store.TaskFilter {
	return store.TaskFilter{Tenant: tenant, Limit: 1000}
}

// testFilters gives each task a distinct combination of status, user, type
// and update time, then checks every filter field alone and combined.
func testFilters(t *testing.T, f *fixture) {
	type spec struct {
		id, user, kind string
		status         schema.Status
		updated        int64
	}
	specs := []spec{
		{"t1", "alice", "scrape", schema.StatusRunning, baseTime + 1000},
		{"t2", "alice", "build", schema.StatusCompleted, baseTime + 2000},
		{"t3", "bob", "scrape", schema.StatusFailed, baseTime + 3000},
		{"t4", "bob", "build", schema.StatusRunning, baseTime + 4000},
		{"t5", "carol", "scrape", schema.StatusPaused, baseTime + 5000},
	}
	var events []schema.Progress
	for _, s := range specs {
		// An earlier event with other values proves filters look at the
		// current state, not at any event.
		events = append(events,
			f.event(s.id, s.id+"-old", baseTime, schema.StatusCancelled, withOwner("mallory", "other")),
			f.event(s.id, s.id+"-now", s.updated, s.status, withOwner(s.user, s.kind)))
	}
	f.insert(events...)

	check := func(name string, mod func(*store.TaskFilter), want ...string) {
		t.Helper()
		filter := taskFilter(f.tenant)
		mod(&filter)
		if want == nil {
			want = []string{}
		}
		require.Equal(t, want, f.taskIDs(filter), name)
	}
	check("no filter", func(*store.TaskFilter) {}, "t5", "t4", "t3", "t2", "t1")
	check("one status", func(q *store.TaskFilter) { q.Statuses = []schema.Status{schema.StatusRunning} }, "t4", "t1")
	check("statuses", func(q *store.TaskFilter) {
		q.Statuses = []schema.Status{schema.StatusFailed, schema.StatusCompleted}
	}, "t3", "t2")
	check("past status", func(q *store.TaskFilter) { q.Statuses = []schema.Status{schema.StatusCancelled} })
	check("task ids", func(q *store.TaskFilter) { q.TaskIDs = []string{"t2", "t5", "nope"} }, "t5", "t2")
	check("user", func(q *store.TaskFilter) { q.UserID = "bob" }, "t4", "t3")
	check("past user", func(q *store.TaskFilter) { q.UserID = "mallory" })
	check("type", func(q *store.TaskFilter) { q.TaskType = "scrape" }, "t5", "t3", "t1")
	check("since is inclusive", func(q *store.TaskFilter) { q.UpdatedSince = baseTime + 4000 }, "t5", "t4")
	check("until is exclusive", func(q *store.TaskFilter) { q.UpdatedUntil = baseTime + 2000 }, "t1")
	check("range", func(q *store.TaskFilter) {
		q.UpdatedSince, q.UpdatedUntil = baseTime+2000, baseTime+5000
	}, "t4", "t3", "t2")
	check("combined", func(q *store.TaskFilter) {
		q.UserID, q.TaskType, q.Statuses = "alice", "scrape", []schema.Status{schema.StatusRunning, schema.StatusPaused}
	}, "t1")
	check("limit", func(q *store.TaskFilter) { q.Limit = 2 }, "t5", "t4")
}

// testTaskPagination walks a listing with many ties on UpdatedAt page by
// page and expects every task exactly once, in listing order, including
// when a filter is applied.
func testTaskPagination(t *testing.T, f *fixture) {
	var events []schema.Progress
	type row struct {
		id      string
		updated int64
		status  schema.Status
	}
	var all []row
	for i := range 23 {
		r := row{fmt.Sprintf("task-%02d", (i*7)%23), baseTime + int64(i%4)*1000, schema.StatusRunning}
		if i%3 == 0 {
			r.status = schema.StatusCompleted
		}
		all = append(all, r)
		events = append(events, f.event(r.id, "e-"+r.id, r.updated, r.status))
	}
	f.insert(events...)
	slices.SortFunc(all, func(a, b row) int {
		return cmp.Or(cmp.Compare(b.updated, a.updated), cmp.Compare(b.id, a.id))
	})

	walk := func(filter store.TaskFilter, pageSize int) []string {
		t.Helper()
		var ids []string
		filter.Limit = pageSize
		for {
			page, err := f.s.Tasks(f.ctx(), filter)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), pageSize)
			for _, task := range page {
				ids = append(ids, task.TaskID)
			}
			if len(page) < pageSize {
				return ids
			}
			last := page[len(page)-1]
			filter.After = &store.TaskCursor{UpdatedAt: last.UpdatedAt, TaskID: last.TaskID}
			require.Less(t, len(ids), 1000, "paging does not end")
		}
	}
	var want, wantCompleted []string
	for _, r := range all {
		want = append(want, r.id)
		if r.status == schema.StatusCompleted {
			wantCompleted = append(wantCompleted, r.id)
		}
	}
	for _, size := range []int{1, 4, 5, 23, 50} {
		require.Equal(t, want, walk(store.TaskFilter{Tenant: f.tenant}, size), "page size %d", size)
	}
	require.Equal(t, wantCompleted, walk(store.TaskFilter{
		Tenant: f.tenant, Statuses: []schema.Status{schema.StatusCompleted},
	}, 2))
}

// testEventPagination pages through a timeline with ties at every level
// of the order key.
func testEventPagination(t *testing.T, f *fixture) {
	var events []schema.Progress
	for i := range 17 {
		events = append(events, f.event("a", fmt.Sprintf("ev-%02d", (i*5)%17), baseTime+int64(i%3),
			schema.StatusRunning, withOrder(int64(i%2), int64(i%4))))
	}
	f.insert(events...)
	want := expectEvents(events)
	for _, size := range []int{1, 2, 5, 17, 40} {
		var got []schema.Progress
		var after *store.EventCursor
		for {
			page, err := f.s.TaskEvents(f.ctx(), f.tenant, "a", store.EventFilter{After: after, Limit: size})
			require.NoError(t, err)
			got = append(got, page...)
			if len(page) < size {
				break
			}
			last := page[len(page)-1]
			after = &store.EventCursor{Timestamp: last.Timestamp, Seq: last.Seq, IngestOrder: last.IngestOrder, EventID: last.EventID}
			require.Less(t, len(got), 1000, "paging does not end")
		}
		require.Equal(t, want, got, "page size %d", size)
	}
}

// testLimitRequired checks that a listing without a positive limit is an
// error rather than an unbounded read.
func testLimitRequired(t *testing.T, f *fixture) {
	f.insert(f.event("a", "e1", baseTime, schema.StatusRunning))
	_, err := f.s.Tasks(f.ctx(), store.TaskFilter{Tenant: f.tenant})
	require.Error(t, err)
	_, err = f.s.TaskEvents(f.ctx(), f.tenant, "a", store.EventFilter{})
	require.Error(t, err)
}
