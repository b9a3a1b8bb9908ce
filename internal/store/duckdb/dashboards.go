package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/taskpulse/taskpulse/internal/store"
)

var _ store.DashboardStore = (*Store)(nil)

const (
	dashboardColumns = `tenant, id, title, definition, version, created_at, updated_at`

	// upsertDashboard stores d as given: the caller owns versioning.
	upsertDashboard = `INSERT OR REPLACE INTO dashboards (` + dashboardColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?)`
	selectDashboard = `SELECT ` + dashboardColumns + ` FROM dashboards WHERE tenant = ? AND id = ?`
	// Titles need not be unique, so the id breaks ties for a stable order.
	selectDashboards = `SELECT ` + dashboardColumns + ` FROM dashboards WHERE tenant = ? ORDER BY title, id`
	deleteDashboard  = `DELETE FROM dashboards WHERE tenant = ? AND id = ?`
)

// PutDashboard creates or replaces d.
func (s *Store) PutDashboard(ctx context.Context, d store.Dashboard) error {
	if d.Tenant == "" || d.ID == "" {
		return errors.New("put dashboard: tenant and id are required")
	}
	if _, err := s.db.ExecContext(ctx, upsertDashboard, d.Tenant, d.ID, d.Title, string(d.Definition), d.Version, d.CreatedAt, d.UpdatedAt); err != nil {
		return fmt.Errorf("put dashboard %s: %w", d.ID, err)
	}
	return nil
}

// Dashboard returns one dashboard, or store.ErrNotFound.
func (s *Store) Dashboard(ctx context.Context, tenant, id string) (store.Dashboard, error) {
	d, err := scanDashboard(s.queryRow(ctx, selectDashboard, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("get dashboard %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("get dashboard %s: %w", id, err)
	}
	return d, nil
}

// Dashboards lists a tenant's dashboards by title.
func (s *Store) Dashboards(ctx context.Context, tenant string) ([]store.Dashboard, error) {
	rows, err := s.query(ctx, selectDashboards, tenant)
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	defer rows.Close()
	var out []store.Dashboard
	for rows.Next() {
		d, err := scanDashboard(rows)
		if err != nil {
			return nil, fmt.Errorf("list dashboards: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	return out, nil
}

// DeleteDashboard removes one dashboard, or returns store.ErrNotFound.
func (s *Store) DeleteDashboard(ctx context.Context, tenant, id string) error {
	res, err := s.db.ExecContext(ctx, deleteDashboard, tenant, id)
	if err != nil {
		return fmt.Errorf("delete dashboard %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete dashboard %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete dashboard %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func scanDashboard(r scanner) (store.Dashboard, error) {
	var d store.Dashboard
	var def string
	err := r.Scan(&d.Tenant, &d.ID, &d.Title, &def, &d.Version, &d.CreatedAt, &d.UpdatedAt)
	d.Definition = []byte(def)
	return d, err
}
