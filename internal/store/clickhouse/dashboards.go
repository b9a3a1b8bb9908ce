package clickhouse

import (
	"context"
	"errors"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/taskpulse/taskpulse/internal/store"
)

var _ store.DashboardStore = (*Store)(nil)

// Every write of a dashboard, a delete too, is a row whose written stamp
// makes the latest write win (see schema/clickhouse/0009). Reads filter out
// deleted rows after FINAL, so a delete hides every older write.
const (
	dashboardColumns = `tenant, id, title, definition, version, created_at, updated_at`
	insertDashboard  = `INSERT INTO dashboards (` + dashboardColumns + `, deleted, written)`
	selectDashboards = `SELECT ` + dashboardColumns + `
FROM dashboards FINAL
PREWHERE tenant = ?%s
WHERE deleted = 0
ORDER BY title, id`
)

// PutDashboard creates or replaces d.
func (s *Store) PutDashboard(ctx context.Context, d store.Dashboard) error {
	if d.Tenant == "" || d.ID == "" {
		return errors.New("put dashboard: tenant and id are required")
	}
	if err := s.writeDashboard(ctx, d, false); err != nil {
		return fmt.Errorf("put dashboard %s: %w", d.ID, err)
	}
	return nil
}

// Dashboard returns one dashboard, or store.ErrNotFound.
func (s *Store) Dashboard(ctx context.Context, tenant, id string) (store.Dashboard, error) {
	ds, err := s.queryDashboards(ctx, " AND id = ?", tenant, id)
	if err != nil {
		return store.Dashboard{}, fmt.Errorf("get dashboard %s: %w", id, err)
	}
	if len(ds) == 0 {
		return store.Dashboard{}, fmt.Errorf("get dashboard %s: %w", id, store.ErrNotFound)
	}
	return ds[0], nil
}

// Dashboards lists a tenant's dashboards by title; titles need not be
// unique, so the id breaks ties.
func (s *Store) Dashboards(ctx context.Context, tenant string) ([]store.Dashboard, error) {
	ds, err := s.queryDashboards(ctx, "", tenant)
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	return ds, nil
}

// DeleteDashboard writes a deleted row over a stored dashboard, or returns
// store.ErrNotFound.
func (s *Store) DeleteDashboard(ctx context.Context, tenant, id string) error {
	if _, err := s.Dashboard(ctx, tenant, id); err != nil {
		return fmt.Errorf("delete dashboard: %w", err)
	}
	if err := s.writeDashboard(ctx, store.Dashboard{Tenant: tenant, ID: id}, true); err != nil {
		return fmt.Errorf("delete dashboard %s: %w", id, err)
	}
	return nil
}

func (s *Store) writeDashboard(ctx context.Context, d store.Dashboard, deleted bool) error {
	return s.insertRows(ctx, insertDashboard, 1, func(int) []any {
		return []any{d.Tenant, d.ID, d.Title, string(d.Definition), d.Version, d.CreatedAt, d.UpdatedAt, deleted, s.writeStamp()}
	})
}

// queryDashboards runs selectDashboards with the extra PREWHERE condition
// and, after the tenant, its arguments.
func (s *Store) queryDashboards(ctx context.Context, cond string, args ...any) ([]store.Dashboard, error) {
	return collect(ctx, s.conn, func(r driver.Rows) (store.Dashboard, error) {
		var (
			d   store.Dashboard
			def string
		)
		err := r.Scan(&d.Tenant, &d.ID, &d.Title, &def, &d.Version, &d.CreatedAt, &d.UpdatedAt)
		d.Definition = []byte(def)
		return d, err
	}, fmt.Sprintf(selectDashboards, cond), args...)
}
