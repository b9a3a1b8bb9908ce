package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
)

func (f *fixture) dashboard(id, title string, updatedAt int64, definition string) store.Dashboard {
	return store.Dashboard{Tenant: f.tenant, ID: id, Title: title, Definition: []byte(definition),
		CreatedAt: baseTime, UpdatedAt: updatedAt}
}

func (f *fixture) createDashboard(d store.Dashboard) store.Dashboard {
	f.t.Helper()
	got, err := f.s.CreateDashboard(f.ctx(), d)
	require.NoError(f.t, err)
	d.Version = 1
	require.Equal(f.t, d, got)
	return got
}

func (f *fixture) requireDashboard(want store.Dashboard) {
	f.t.Helper()
	got, err := f.s.Dashboard(f.ctx(), want.Tenant, want.ID)
	require.NoError(f.t, err)
	require.Equal(f.t, want, got)
}

func (f *fixture) dashboardIDs() []string {
	f.t.Helper()
	ds, err := f.s.Dashboards(f.ctx(), f.tenant)
	require.NoError(f.t, err)
	ids := []string{}
	for _, d := range ds {
		require.Equal(f.t, f.tenant, d.Tenant)
		ids = append(ids, d.ID)
	}
	return ids
}

// testDashboards creates, lists, updates and deletes dashboards, the store
// counting versions.
func testDashboards(t *testing.T, f *fixture) {
	zeta := f.createDashboard(f.dashboard("d-1", "Zeta", baseTime, `{"panels":[{"title":"Échecs « 技能 »","query":"rate(x)"}]}`))
	f.createDashboard(f.dashboard("d-2", "Alpha", baseTime, `{"panels":[]}`))
	f.requireDashboard(zeta)
	require.Equal(t, []string{"d-2", "d-1"}, f.dashboardIDs(), "listed by title")
	_, err := f.s.CreateDashboard(f.ctx(), f.dashboard("d-1", "Again", baseTime, `{}`))
	require.ErrorIs(t, err, store.ErrConflict, "an id is created once")
	f.requireDashboard(zeta)

	got, err := f.s.UpdateDashboard(f.ctx(), f.dashboard("d-1", "Aardvark", baseTime+10, `{"panels":[{"title":"new"}]}`), 1)
	require.NoError(t, err)
	want := f.dashboard("d-1", "Aardvark", baseTime+10, `{"panels":[{"title":"new"}]}`)
	want.Version = 2
	require.Equal(t, want, got)
	f.requireDashboard(want)
	require.Equal(t, []string{"d-1", "d-2"}, f.dashboardIDs())

	got, err = f.s.UpdateDashboard(f.ctx(), f.dashboard("d-1", "Aardvark", baseTime+5, `{}`), store.AnyVersion)
	require.NoError(t, err)
	require.Equal(t, int64(3), got.Version, "AnyVersion still counts")
	require.Equal(t, baseTime+10, got.UpdatedAt, "updated_at never goes back")
	f.requireDashboard(got)

	require.NoError(t, f.s.DeleteDashboard(f.ctx(), f.tenant, "d-1", 3))
	_, err = f.s.Dashboard(f.ctx(), f.tenant, "d-1")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, f.s.DeleteDashboard(f.ctx(), f.tenant, "d-1", store.AnyVersion), store.ErrNotFound)
	require.ErrorIs(t, f.s.DeleteDashboard(f.ctx(), f.tenant, "never", store.AnyVersion), store.ErrNotFound)
	_, err = f.s.UpdateDashboard(f.ctx(), f.dashboard("d-1", "Back", baseTime+20, `{}`), store.AnyVersion)
	require.ErrorIs(t, err, store.ErrNotFound, "an update does not bring a deleted dashboard back")
	require.Equal(t, []string{"d-2"}, f.dashboardIDs())
	require.NoError(t, f.s.DeleteDashboard(f.ctx(), f.tenant, "d-2", store.AnyVersion))
	require.Empty(t, f.dashboardIDs())
}

// testDashboardTenantIsolation keeps the same id under two tenants.
func testDashboardTenantIsolation(t *testing.T, f *fixture) {
	other := f.other("-other")
	mine := f.createDashboard(f.dashboard("same", "Mine", baseTime, `{}`))
	theirs := other.createDashboard(other.dashboard("same", "Theirs", baseTime, `{"x":1}`))
	other.requireDashboard(theirs)
	nobody := f.other("-nobody")
	require.ErrorIs(t, f.s.DeleteDashboard(f.ctx(), nobody.tenant, "same", store.AnyVersion), store.ErrNotFound)
	_, err := f.s.UpdateDashboard(f.ctx(), nobody.dashboard("same", "Nobody's", baseTime, `{}`), 1)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, f.s.DeleteDashboard(f.ctx(), other.tenant, "same", 1))
	f.requireDashboard(mine)
	require.Empty(t, other.dashboardIDs())
}

// testDashboardIfMatch refuses an update or delete that names a version
// the dashboard is no longer at, and changes nothing then.
func testDashboardIfMatch(t *testing.T, f *fixture) {
	f.createDashboard(f.dashboard("d", "One", baseTime, `{}`))
	two, err := f.s.UpdateDashboard(f.ctx(), f.dashboard("d", "Two", baseTime+1, `{}`), 1)
	require.NoError(t, err)

	_, err = f.s.UpdateDashboard(f.ctx(), f.dashboard("d", "Stale", baseTime+2, `{}`), 1)
	require.ErrorIs(t, err, store.ErrConflict)
	_, err = f.s.UpdateDashboard(f.ctx(), f.dashboard("d", "Ahead", baseTime+2, `{}`), 3)
	require.ErrorIs(t, err, store.ErrConflict)
	_, err = f.s.UpdateDashboard(f.ctx(), f.dashboard("d", "None", baseTime+2, `{}`), -1)
	require.ErrorIs(t, err, store.ErrConflict, "a version no dashboard has never matches")
	require.ErrorIs(t, f.s.DeleteDashboard(f.ctx(), f.tenant, "d", 1), store.ErrConflict)
	f.requireDashboard(two)

	_, err = f.s.UpdateDashboard(f.ctx(), f.dashboard("missing", "M", baseTime, `{}`), 1)
	require.ErrorIs(t, err, store.ErrNotFound, "a missing dashboard is not found, whatever the version")
	require.ErrorIs(t, f.s.DeleteDashboard(f.ctx(), f.tenant, "missing", 1), store.ErrNotFound)

	require.NoError(t, f.s.DeleteDashboard(f.ctx(), f.tenant, "d", 2))
	require.Empty(t, f.dashboardIDs())
}

// testDashboardConcurrentIfMatch races writers that all hold the same
// version, as two query replicas serving two clients would: exactly one
// wins each round and the others get store.ErrConflict, whether they
// update or delete.
func testDashboardConcurrentIfMatch(t *testing.T, f *fixture) {
	const writers, rounds = 4, 3
	current := f.createDashboard(f.dashboard("d", "Start", baseTime, `{}`))
	for round := range rounds {
		results := race(writers, func(w int) (store.Dashboard, error) {
			d := f.dashboard("d", fmt.Sprintf("round %d writer %d", round, w), baseTime+int64(round+1), `{}`)
			return f.s.UpdateDashboard(f.ctx(), d, current.Version)
		})
		var winners []store.Dashboard
		for _, r := range results {
			if r.err != nil {
				require.ErrorIs(t, r.err, store.ErrConflict)
				continue
			}
			winners = append(winners, r.d)
		}
		require.Len(t, winners, 1, "round %d", round)
		require.Equal(t, current.Version+1, winners[0].Version)
		f.requireDashboard(winners[0])
		current = winners[0]
	}

	results := race(writers, func(w int) (store.Dashboard, error) {
		if w%2 == 0 {
			return store.Dashboard{}, f.s.DeleteDashboard(f.ctx(), f.tenant, "d", current.Version)
		}
		return f.s.UpdateDashboard(f.ctx(), f.dashboard("d", "Late", baseTime+10, `{}`), current.Version)
	})
	won := 0
	for _, r := range results {
		if r.err == nil {
			won++
			continue
		}
		// An update that loses to a delete finds nothing left to update.
		if !errors.Is(r.err, store.ErrNotFound) {
			require.ErrorIs(t, r.err, store.ErrConflict)
		}
	}
	require.Equal(t, 1, won, "updates racing deletes")
}

type raceResult struct {
	d   store.Dashboard
	err error
}

// race runs write for writers 0..n-1 at once and returns what each got.
func race(n int, write func(w int) (store.Dashboard, error)) []raceResult {
	start := make(chan struct{})
	results := make([]raceResult, n)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			<-start
			results[w].d, results[w].err = write(w)
		})
	}
	close(start)
	wg.Wait()
	return results
}

// testDashboardConcurrentUpdates expects updates that name no version to
// all apply, each on top of another, so no version is given twice.
func testDashboardConcurrentUpdates(t *testing.T, f *fixture) {
	const writers = 4
	f.createDashboard(f.dashboard("d", "Start", baseTime, `{}`))
	results := race(writers, func(w int) (store.Dashboard, error) {
		return f.s.UpdateDashboard(f.ctx(), f.dashboard("d", fmt.Sprintf("writer %d", w), baseTime+1, `{}`), store.AnyVersion)
	})
	var versions []int64
	for _, r := range results {
		require.NoError(t, r.err)
		versions = append(versions, r.d.Version)
	}
	require.ElementsMatch(t, []int64{2, 3, 4, 5}, versions)
	got, err := f.s.Dashboard(f.ctx(), f.tenant, "d")
	require.NoError(t, err)
	require.Equal(t, int64(writers+1), got.Version)
}
