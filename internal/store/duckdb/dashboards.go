package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/taskpulse/taskpulse/internal/store"
)

// A dashboard write checks the stored version in its own WHERE clause, so
// the check and the write are one statement, in a transaction with any
// read that follows, and the rows it affected say whether it applied.
// DuckDB's optimistic concurrency does not stand in for a lock here: it
// aborts one of two concurrent updates of a row, but lets an update and a
// delete of the same row both commit. So dashboard writes also take
// Store.dashboardWrites, which orders every writer there is, since one
// process alone opens the file for writing.
const (
	dashboardColumns = `tenant, id, title, definition, version, created_at, updated_at`

	insertDashboard = `INSERT INTO dashboards (` + dashboardColumns + `) VALUES (?, ?, ?, ?, 1, ?, ?)
ON CONFLICT DO NOTHING`
	// updateDashboard applies where the version is the one expected, or
	// any when the caller passes AnyVersion (0) twice.
	updateDashboard = `UPDATE dashboards
SET title = ?, definition = ?, version = version + 1, updated_at = greatest(updated_at, ?)
WHERE tenant = ? AND id = ? AND (? = 0 OR version = ?)`
	deleteDashboard = `DELETE FROM dashboards WHERE tenant = ? AND id = ? AND (? = 0 OR version = ?)`

	selectDashboard        = `SELECT ` + dashboardColumns + ` FROM dashboards WHERE tenant = ? AND id = ?`
	selectDashboardVersion = `SELECT version FROM dashboards WHERE tenant = ? AND id = ?`
	// Titles need not be unique, so the id breaks ties for a stable order.
	selectDashboards = `SELECT ` + dashboardColumns + ` FROM dashboards WHERE tenant = ? ORDER BY title, id`
)

// CreateDashboard stores d at version 1.
func (s *Store) CreateDashboard(ctx context.Context, d store.Dashboard) (store.Dashboard, error) {
	if d.Tenant == "" || d.ID == "" {
		return d, errors.New("create dashboard: tenant and id are required")
	}
	s.dashboardWrites.Lock()
	defer s.dashboardWrites.Unlock()
	res, err := s.db.ExecContext(ctx, insertDashboard, d.Tenant, d.ID, d.Title, string(d.Definition), d.CreatedAt, d.UpdatedAt)
	if err != nil {
		return d, fmt.Errorf("create dashboard %s: %w", d.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return d, fmt.Errorf("create dashboard %s: %w", d.ID, err)
	} else if n == 0 {
		return d, fmt.Errorf("create dashboard %s: id taken: %w", d.ID, store.ErrConflict)
	}
	d.Version = 1
	return d, nil
}

// UpdateDashboard replaces d's title and definition if the stored version
// is ifVersion.
func (s *Store) UpdateDashboard(ctx context.Context, d store.Dashboard, ifVersion int64) (store.Dashboard, error) {
	var out store.Dashboard
	err := s.writeDashboard(ctx, d.Tenant, d.ID, ifVersion, func(tx *sql.Tx) (sql.Result, error) {
		return tx.ExecContext(ctx, updateDashboard, d.Title, string(d.Definition), d.UpdatedAt, d.Tenant, d.ID, ifVersion, ifVersion)
	}, func(tx *sql.Tx) (err error) {
		out, err = scanDashboard(tx.QueryRowContext(ctx, selectDashboard, d.Tenant, d.ID))
		return err
	})
	if err != nil {
		return out, fmt.Errorf("update dashboard %s: %w", d.ID, err)
	}
	return out, nil
}

// DeleteDashboard removes one dashboard if the stored version is
// ifVersion.
func (s *Store) DeleteDashboard(ctx context.Context, tenant, id string, ifVersion int64) error {
	err := s.writeDashboard(ctx, tenant, id, ifVersion, func(tx *sql.Tx) (sql.Result, error) {
		return tx.ExecContext(ctx, deleteDashboard, tenant, id, ifVersion, ifVersion)
	}, nil)
	if err != nil {
		return fmt.Errorf("delete dashboard %s: %w", id, err)
	}
	return nil
}

// writeDashboard runs write in a transaction; when it affects no row, it
// tells a missing dashboard from one at another version. then, if given,
// runs in the same transaction after a write that applied.
func (s *Store) writeDashboard(ctx context.Context, tenant, id string, ifVersion int64, write func(*sql.Tx) (sql.Result, error), then func(*sql.Tx) error) error {
	s.dashboardWrites.Lock()
	defer s.dashboardWrites.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := write(tx)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		var stored int64
		err := tx.QueryRowContext(ctx, selectDashboardVersion, tenant, id).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("stored version is %d, not %d: %w", stored, ifVersion, store.ErrConflict)
	}
	if then != nil {
		if err := then(tx); err != nil {
			return err
		}
	}
	return tx.Commit()
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

func scanDashboard(r scanner) (store.Dashboard, error) {
	var d store.Dashboard
	var def string
	err := r.Scan(&d.Tenant, &d.ID, &d.Title, &def, &d.Version, &d.CreatedAt, &d.UpdatedAt)
	d.Definition = []byte(def)
	return d, err
}
