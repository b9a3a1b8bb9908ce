package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/taskpulse/taskpulse/internal/store"
)

// Every write of a dashboard, a delete too, is a row whose written stamp
// makes the latest write win (see schema/clickhouse/0009). Reads filter out
// deleted rows after FINAL, so a delete hides every older write.
//
// ClickHouse 18.16 has neither transactions nor a conditional insert, so a
// conditional write (casDashboard) takes the stamp its row will carry,
// reads the current row and checks its version, inserts, waits a little
// (settle), and reads the current row again: the write applied only if
// that row is its own. Taking the stamp before the check means that a
// writer that checked an older version carries an older stamp than any
// write it missed, so it never replaces that write and a version never
// goes back. Writes through one Store are also serialised, so within a
// process exactly one of two writers holding the same version succeeds.
//
// Between processes a race remains. If writers A and B both pass the check
// before either row is stored, B's row (the later stamp) wins; A learns it
// lost only if B's row is stored by the time A reads back. A rival that
// took more than twice as long as A to check and insert (a stalled
// process, a slow network) is missed: A is told it succeeded, then B's row
// replaces A's, and A's change is lost as it would be without If-Match.
// The argument also needs the processes' clocks to agree to well within
// that time. Closing the race needs a compare-and-set the engine does not
// offer.
const (
	dashboardColumns = `tenant, id, title, definition, version, created_at, updated_at`
	insertDashboard  = `INSERT INTO dashboards (` + dashboardColumns + `, deleted, written)`
	selectDashboards = `SELECT ` + dashboardColumns + `
FROM dashboards FINAL
PREWHERE tenant = ?%s
WHERE deleted = 0
ORDER BY title, id`
	// selectDashboardHead reads the row FINAL keeps of one dashboard,
	// deleted or not, and its stamp.
	selectDashboardHead = `SELECT ` + dashboardColumns + `, deleted, written
FROM dashboards FINAL
PREWHERE tenant = ? AND id = ?`
)

// minSettle and maxSettle bound the wait of settle.
const (
	minSettle = 50 * time.Millisecond
	maxSettle = 2 * time.Second
)

// anyVersionRetries bounds how often a write that expects AnyVersion is
// made again after another process's write replaced it.
const anyVersionRetries = 3

// CreateDashboard stores d at version 1, unless a dashboard with its id
// exists.
func (s *Store) CreateDashboard(ctx context.Context, d store.Dashboard) (store.Dashboard, error) {
	if d.Tenant == "" || d.ID == "" {
		return d, errors.New("create dashboard: tenant and id are required")
	}
	out, err := s.casDashboard(ctx, d.Tenant, d.ID, false, func(cur *store.Dashboard) (store.Dashboard, bool, error) {
		if cur != nil {
			return d, false, fmt.Errorf("id taken: %w", store.ErrConflict)
		}
		d.Version = 1
		return d, false, nil
	})
	if err != nil {
		return out, fmt.Errorf("create dashboard %s: %w", d.ID, err)
	}
	return out, nil
}

// UpdateDashboard replaces d's title and definition if the stored version
// is ifVersion.
func (s *Store) UpdateDashboard(ctx context.Context, d store.Dashboard, ifVersion int64) (store.Dashboard, error) {
	out, err := s.casDashboard(ctx, d.Tenant, d.ID, ifVersion == store.AnyVersion, func(cur *store.Dashboard) (store.Dashboard, bool, error) {
		if err := checkVersion(cur, ifVersion); err != nil {
			return d, false, err
		}
		next := *cur
		next.Title, next.Definition = d.Title, d.Definition
		next.Version++
		next.UpdatedAt = max(cur.UpdatedAt, d.UpdatedAt)
		return next, false, nil
	})
	if err != nil {
		return out, fmt.Errorf("update dashboard %s: %w", d.ID, err)
	}
	return out, nil
}

// DeleteDashboard writes a deleted row over a stored dashboard if its
// version is ifVersion.
func (s *Store) DeleteDashboard(ctx context.Context, tenant, id string, ifVersion int64) error {
	_, err := s.casDashboard(ctx, tenant, id, ifVersion == store.AnyVersion, func(cur *store.Dashboard) (store.Dashboard, bool, error) {
		if err := checkVersion(cur, ifVersion); err != nil {
			return store.Dashboard{}, false, err
		}
		tomb := *cur
		tomb.Version++
		return tomb, true, nil
	})
	if err != nil {
		return fmt.Errorf("delete dashboard %s: %w", id, err)
	}
	return nil
}

func checkVersion(cur *store.Dashboard, ifVersion int64) error {
	if cur == nil {
		return store.ErrNotFound
	}
	if ifVersion != store.AnyVersion && cur.Version != ifVersion {
		return fmt.Errorf("stored version is %d, not %d: %w", cur.Version, ifVersion, store.ErrConflict)
	}
	return nil
}

// casDashboard writes the row next makes of the current dashboard (nil
// when there is none) and returns it if it is still the current row once
// stored; see the comment atop this file. next refuses with an error.
// retry makes a write that another process's write replaced again, on top
// of that write, rather than fail it with store.ErrConflict.
func (s *Store) casDashboard(ctx context.Context, tenant, id string, retry bool, next func(cur *store.Dashboard) (store.Dashboard, bool, error)) (store.Dashboard, error) {
	s.dashboardWrites.Lock()
	defer s.dashboardWrites.Unlock()
	for attempt := 1; ; attempt++ {
		began, stamp := time.Now(), s.writeStamp()
		cur, err := s.dashboardHead(ctx, tenant, id)
		if err != nil {
			return store.Dashboard{}, err
		}
		var live *store.Dashboard
		if cur != nil && !cur.deleted {
			live = &cur.d
		}
		d, deleted, err := next(live)
		if err != nil {
			return d, err
		}
		err = s.insertRows(ctx, insertDashboard, 1, func(int) []any {
			return []any{d.Tenant, d.ID, d.Title, string(d.Definition), d.Version, d.CreatedAt, d.UpdatedAt, deleted, stamp}
		})
		if err != nil {
			return d, err
		}
		if err := settle(ctx, time.Since(began)); err != nil {
			return d, err
		}
		after, err := s.dashboardHead(ctx, tenant, id)
		if err != nil {
			return d, err
		}
		if after != nil && after.written == stamp {
			return d, nil
		}
		if !retry || attempt == anyVersionRetries {
			return d, fmt.Errorf("a concurrent write replaced this one: %w", store.ErrConflict)
		}
	}
}

// settle waits, before a conditional write reads back, for a rival's row
// to land: twice what checking and inserting took this writer, and at
// least minSettle, so that a rival has to be that much slower than this
// writer to be missed.
func settle(ctx context.Context, took time.Duration) error {
	t := time.NewTimer(min(max(2*took, minSettle), maxSettle))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// dashboardRow is a stored dashboard row as FINAL keeps it.
type dashboardRow struct {
	d       store.Dashboard
	deleted bool
	written uint64
}

// dashboardHead returns the current row of one dashboard, nil when none
// was ever written.
func (s *Store) dashboardHead(ctx context.Context, tenant, id string) (*dashboardRow, error) {
	rows, err := collect(ctx, s.conn, func(r driver.Rows) (dashboardRow, error) {
		var (
			row     dashboardRow
			def     string
			deleted uint8
		)
		err := r.Scan(&row.d.Tenant, &row.d.ID, &row.d.Title, &def, &row.d.Version, &row.d.CreatedAt, &row.d.UpdatedAt, &deleted, &row.written)
		row.d.Definition, row.deleted = []byte(def), deleted != 0
		return row, err
	}, selectDashboardHead, tenant, id)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return &rows[0], nil
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
