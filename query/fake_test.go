package query_test

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// memStore keeps just enough of the store contracts in memory to drive the
// handlers: filters the handlers rely on, ordering and cursors. The
// contracts themselves are proven by the store conformance suite.
type memStore struct {
	mu         sync.Mutex
	tasks      []store.Task
	events     map[string][]schema.Progress
	logs       []schema.Log
	series     []store.Series
	stats      store.Stats
	dashboards map[string]store.Dashboard
	queries    []store.SeriesQuery
	pages      int // store reads of listings, to prove exports page
}

func newMemStore() *memStore {
	return &memStore{events: map[string][]schema.Progress{}, dashboards: map[string]store.Dashboard{}}
}

func (m *memStore) Tasks(_ context.Context, f store.TaskFilter) ([]store.Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pages++
	all := slices.Clone(m.tasks)
	slices.SortFunc(all, func(a, b store.Task) int {
		return cmp.Or(cmp.Compare(b.UpdatedAt, a.UpdatedAt), cmp.Compare(b.TaskID, a.TaskID))
	})
	var out []store.Task
	for _, t := range all {
		switch {
		case t.Tenant != f.Tenant,
			len(f.Statuses) > 0 && !slices.Contains(f.Statuses, t.Status),
			len(f.TaskIDs) > 0 && !slices.Contains(f.TaskIDs, t.TaskID),
			f.TaskType != "" && t.TaskType != f.TaskType,
			f.UpdatedSince > 0 && t.UpdatedAt < f.UpdatedSince,
			f.UpdatedUntil > 0 && t.UpdatedAt >= f.UpdatedUntil,
			f.After != nil && (t.UpdatedAt > f.After.UpdatedAt || t.UpdatedAt == f.After.UpdatedAt && t.TaskID >= f.After.TaskID):
			continue
		}
		if out = append(out, t); len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

func (m *memStore) listingReads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pages
}

func (m *memStore) Task(_ context.Context, tenant, id string) (store.Task, error) {
	for _, t := range m.tasks {
		if t.Tenant == tenant && t.TaskID == id {
			return t, nil
		}
	}
	return store.Task{}, store.ErrNotFound
}

func (m *memStore) TaskEvents(_ context.Context, _, id string, f store.EventFilter) ([]schema.Progress, error) {
	var out []schema.Progress
	for _, e := range m.events[id] {
		if f.After != nil && e.Seq <= f.After.Seq {
			continue
		}
		if out = append(out, e); len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

// Logs keeps m.logs newest first.
func (m *memStore) Logs(_ context.Context, f store.LogFilter) ([]schema.Log, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pages++
	var out []schema.Log
	for _, l := range m.logs {
		switch {
		case l.Tenant != f.Tenant,
			f.MinLevel != "" && l.Level.Rank() < f.MinLevel.Rank(),
			f.TaskID != "" && l.TaskID != f.TaskID,
			f.After != nil && (l.Timestamp > f.After.Timestamp || l.Timestamp == f.After.Timestamp && l.EventID >= f.After.EventID):
			continue
		}
		if out = append(out, l); len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

// MetricSeries answers the canned series, keeping the points in range.
func (m *memStore) MetricSeries(_ context.Context, q store.SeriesQuery) ([]store.Series, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.queries = append(m.queries, q)
	var out []store.Series
	for _, s := range m.series {
		kept := store.Series{Labels: s.Labels}
		for _, p := range s.Points {
			if p.T >= q.From && p.T < q.To {
				kept.Points = append(kept.Points, p)
			}
		}
		out = append(out, kept)
	}
	return out, nil
}

func (m *memStore) Stats(context.Context, store.StatsQuery) (store.Stats, error) {
	return m.stats, nil
}

func (m *memStore) PutDashboard(_ context.Context, d store.Dashboard) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dashboards[d.Tenant+"/"+d.ID] = d
	return nil
}

func (m *memStore) Dashboard(_ context.Context, tenant, id string) (store.Dashboard, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.dashboards[tenant+"/"+id]
	if !ok {
		return d, store.ErrNotFound
	}
	return d, nil
}

func (m *memStore) Dashboards(_ context.Context, tenant string) ([]store.Dashboard, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Dashboard
	for _, d := range m.dashboards {
		if d.Tenant == tenant {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b store.Dashboard) int { return cmp.Compare(a.Title, b.Title) })
	return out, nil
}

func (m *memStore) DeleteDashboard(_ context.Context, tenant, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.dashboards[tenant+"/"+id]; !ok {
		return store.ErrNotFound
	}
	delete(m.dashboards, tenant+"/"+id)
	return nil
}
