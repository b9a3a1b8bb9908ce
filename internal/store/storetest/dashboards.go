package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
)

func (f *signalFixture) dashboard(id, title string, version int64, definition string) store.Dashboard {
	return store.Dashboard{Tenant: f.tenant, ID: id, Title: title, Definition: []byte(definition),
		Version: version, CreatedAt: baseTime, UpdatedAt: baseTime + version}
}

func (f *signalFixture) dashboardIDs() []string {
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

// testDashboards creates, lists, replaces and deletes dashboards.
func testDashboards(t *testing.T, f *signalFixture) {
	zeta := f.dashboard("d-1", "Zeta", 1, `{"panels":[{"title":"Échecs « 技能 »","query":"rate(x)"}]}`)
	alpha := f.dashboard("d-2", "Alpha", 1, `{"panels":[]}`)
	for _, d := range []store.Dashboard{zeta, alpha} {
		require.NoError(t, f.s.PutDashboard(f.ctx(), d))
	}
	got, err := f.s.Dashboard(f.ctx(), f.tenant, "d-1")
	require.NoError(t, err)
	require.Equal(t, zeta, got)
	require.Equal(t, []string{"d-2", "d-1"}, f.dashboardIDs(), "listed by title")

	zeta2 := f.dashboard("d-1", "Aardvark", 2, `{"panels":[{"title":"new"}]}`)
	require.NoError(t, f.s.PutDashboard(f.ctx(), zeta2))
	got, err = f.s.Dashboard(f.ctx(), f.tenant, "d-1")
	require.NoError(t, err)
	require.Equal(t, zeta2, got)
	require.Equal(t, []string{"d-1", "d-2"}, f.dashboardIDs())

	require.NoError(t, f.s.DeleteDashboard(f.ctx(), f.tenant, "d-1"))
	_, err = f.s.Dashboard(f.ctx(), f.tenant, "d-1")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, f.s.DeleteDashboard(f.ctx(), f.tenant, "d-1"), store.ErrNotFound)
	require.ErrorIs(t, f.s.DeleteDashboard(f.ctx(), f.tenant, "never"), store.ErrNotFound)
	require.Equal(t, []string{"d-2"}, f.dashboardIDs())
}

// testDashboardTenantIsolation keeps the same id under two tenants.
func testDashboardTenantIsolation(t *testing.T, f *signalFixture) {
	other := f.other("-other")
	mine, theirs := f.dashboard("same", "Mine", 1, `{}`), other.dashboard("same", "Theirs", 1, `{"x":1}`)
	require.NoError(t, f.s.PutDashboard(f.ctx(), mine))
	require.NoError(t, f.s.PutDashboard(f.ctx(), theirs))
	got, err := f.s.Dashboard(f.ctx(), other.tenant, "same")
	require.NoError(t, err)
	require.Equal(t, theirs, got)
	require.ErrorIs(t, f.s.DeleteDashboard(f.ctx(), f.other("-nobody").tenant, "same"), store.ErrNotFound)
	require.NoError(t, f.s.DeleteDashboard(f.ctx(), other.tenant, "same"))
	got, err = f.s.Dashboard(f.ctx(), f.tenant, "same")
	require.NoError(t, err)
	require.Equal(t, mine, got)
	require.Empty(t, other.dashboardIDs())
}
