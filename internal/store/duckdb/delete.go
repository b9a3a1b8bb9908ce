package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Deleting a task. A task is deleted by its tombstone, a progress event
// with status "deleted", which InsertProgress stores as the task's row of
// task_deletions (schema/duckdb/0020_task_deletions.sql) rather than as an
// event. In the same transaction it removes what the deletion covers: the
// task's events at or before the tombstone's order key, its logs and
// metric samples at or before the tombstone's millisecond, and its row of
// tasks, which it folds again from the events left, those after the
// tombstone. The rollup minutes that held a removed sample are folded again
// from the samples left in them, so the rollup keeps agreeing with the raw
// samples. Every insert afterwards drops what a stored deletion covers, so
// a late older event cannot bring the task back, while a newer one starts
// it again with only the newer events: it reads the deletions of the
// batch's tasks first, under the write lock, so that none can be stored
// between that read and the insert.

// deletionColumns fixes the order of task_deletions' columns for
// appending and reading.
const deletionColumns = `tenant, task_id, deleted_at, seq, ingest_order, event_id`

var deletionColumnNames = columnNames(deletionColumns)

const (
	// selectDeletions reads the deletions of any of the tasks and tenants
	// bound, a superset of the pairs asked for, which the caller narrows.
	selectDeletions = `SELECT ` + deletionColumns + ` FROM task_deletions
WHERE list_contains(?::VARCHAR[], task_id) AND list_contains(?::VARCHAR[], tenant)`

	createStagingDeletions = `CREATE OR REPLACE TEMP TABLE staging_deletions AS
SELECT ` + deletionColumns + ` FROM task_deletions LIMIT 0`
	// Only deletions later than the stored ones are staged, so replacing
	// keeps the latest of each task.
	recordDeletions = `INSERT OR REPLACE INTO task_deletions (` + deletionColumns + `)
SELECT ` + deletionColumns + ` FROM staging_deletions`

	deleteEvents = `DELETE FROM progress_events USING staging_deletions d
WHERE progress_events.tenant = d.tenant AND progress_events.task_id = d.task_id
    AND (progress_events.timestamp, progress_events.seq, progress_events.ingest_order, progress_events.event_id)
        <= (d.deleted_at, d.seq, d.ingest_order, d.event_id)`
	deleteLogs = `DELETE FROM logs USING staging_deletions d
WHERE logs.tenant = d.tenant AND logs.task_id = d.task_id AND logs.timestamp <= d.deleted_at`
	// deleteSamples returns what names the rollup rows of the samples it
	// removes.
	deleteSamples = `DELETE FROM metrics USING staging_deletions d
WHERE metrics.tenant = d.tenant AND metrics.task_id = d.task_id AND metrics.timestamp <= d.deleted_at
RETURNING metrics.tenant, metrics.name, metrics.label_keys, metrics.label_values, metrics.timestamp`
	deleteTaskRows = `DELETE FROM tasks USING staging_deletions d
WHERE tasks.tenant = d.tenant AND tasks.task_id = d.task_id`
	selectEventsLeft = `SELECT ` + eventColumns + ` FROM progress_events
SEMI JOIN staging_deletions d USING (tenant, task_id)`

	createStagingMinutes = `CREATE OR REPLACE TEMP TABLE staging_minutes (
    tenant VARCHAR, name VARCHAR, series VARCHAR, label_keys VARCHAR[], label_values VARCHAR[], minute BIGINT)`
	deleteMinutes = `DELETE FROM metric_rollup USING staging_minutes m
WHERE metric_rollup.tenant = m.tenant AND metric_rollup.name = m.name
    AND metric_rollup.series = m.series AND metric_rollup.minute = m.minute`
	selectSamplesLeft = `SELECT ` + metricColumns + ` FROM metrics
SEMI JOIN staging_minutes m ON metrics.tenant = m.tenant AND metrics.name = m.name
    AND metrics.label_keys = m.label_keys AND metrics.label_values = m.label_values
    AND metrics.timestamp >= m.minute AND metrics.timestamp < m.minute + ?`
)

// selectDeletingTenants lists the tenants that have deleted a task.
const selectDeletingTenants = `SELECT DISTINCT tenant FROM task_deletions`

// loadDeletingTenants reads which tenants have deleted a task, for
// deletionsOf.
func (s *Store) loadDeletingTenants(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, selectDeletingTenants)
	if err != nil {
		return fmt.Errorf("read deleting tenants: %w", err)
	}
	defer rows.Close()
	s.deletingTenants = map[string]bool{}
	for rows.Next() {
		var tenant string
		if err := rows.Scan(&tenant); err != nil {
			return fmt.Errorf("read deleting tenants: %w", err)
		}
		s.deletingTenants[tenant] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read deleting tenants: %w", err)
	}
	return nil
}

// deletions maps each deleted task to the order key of its latest
// tombstone.
type deletions map[taskKey]schema.Order

// deletionsOf reads the stored deletions of the tasks keys names. Only
// tenants that ever deleted a task are asked about: binding the task ids
// of a large batch of logs to the query cost a tenth of the writer's CPU,
// and most batches belong to tenants that never deleted one. Callers hold
// writeMu, which guards deletingTenants.
func (s *Store) deletionsOf(ctx context.Context, keys map[taskKey]bool) (deletions, error) {
	var ids, tenants []string
	seenTenant := map[string]bool{}
	for k := range keys {
		if !s.deletingTenants[k.tenant] {
			continue
		}
		ids = append(ids, k.taskID)
		if !seenTenant[k.tenant] {
			seenTenant[k.tenant] = true
			tenants = append(tenants, k.tenant)
		}
	}
	d := deletions{}
	if len(ids) == 0 {
		return d, nil
	}
	rows, err := s.db.QueryContext(ctx, selectDeletions, ids, tenants)
	if err != nil {
		return nil, fmt.Errorf("read task deletions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k taskKey
		var o schema.Order
		if err := rows.Scan(&k.tenant, &k.taskID, &o.Timestamp, &o.Seq, &o.IngestOrder, &o.EventID); err != nil {
			return nil, fmt.Errorf("read task deletions: %w", err)
		}
		if keys[k] {
			d[k] = o
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read task deletions: %w", err)
	}
	return d, nil
}

// covers reports whether the deletion of k, if any, covers an event at o.
func (d deletions) covers(k taskKey, o schema.Order) bool {
	del, ok := d[k]
	return ok && !o.After(del)
}

// coversTime reports whether the deletion of k, if any, covers a log or a
// sample at ts: those carry no seq, so their millisecond decides, and one
// in the tombstone's own millisecond counts as older.
func (d deletions) coversTime(k taskKey, ts int64) bool {
	del, ok := d[k]
	return ok && ts <= del.Timestamp
}

// splitTombstones takes the tombstones out of batch. It returns the latest
// tombstone of each task that is later than the task's stored deletion,
// the deletions this batch adds, and the other events that neither the
// stored nor the new deletions cover.
func (s *Store) splitTombstones(ctx context.Context, batch []*schema.Progress) (deletions, []*schema.Progress, error) {
	keys := make(map[taskKey]bool)
	for _, e := range batch {
		keys[taskKey{e.Tenant, e.TaskID}] = true
	}
	del, err := s.deletionsOf(ctx, keys)
	if err != nil {
		return nil, nil, err
	}
	var added deletions
	for _, e := range batch {
		k := taskKey{e.Tenant, e.TaskID}
		if e.Status != schema.StatusDeleted || del.covers(k, e.Order()) {
			continue
		}
		if added == nil {
			added = deletions{}
		}
		added[k], del[k] = e.Order(), e.Order()
	}
	if len(del) == 0 {
		return nil, batch, nil
	}
	live := batch[:0:0]
	for _, e := range batch {
		if e.Status != schema.StatusDeleted && !del.covers(taskKey{e.Tenant, e.TaskID}, e.Order()) {
			live = append(live, e)
		}
	}
	return added, live, nil
}

// undeleted keeps the records, logs or samples, that no stored deletion
// covers; at gives a record's task and timestamp.
func undeleted[R any](ctx context.Context, s *Store, batch []*R, at func(*R) (taskKey, int64)) ([]*R, error) {
	keys := make(map[taskKey]bool)
	for _, r := range batch {
		if k, _ := at(r); k.taskID != "" {
			keys[k] = true
		}
	}
	del, err := s.deletionsOf(ctx, keys)
	if err != nil || len(del) == 0 {
		return batch, err
	}
	kept := batch[:0:0]
	for _, r := range batch {
		if k, ts := at(r); !del.coversTime(k, ts) {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

// applyDeletions records added in tx and removes what it covers.
func (s *Store) applyDeletions(ctx context.Context, tx *sql.Tx, added deletions) error {
	if len(added) == 0 {
		return nil
	}
	// Marked before the transaction commits: should it roll back, the
	// tenant is only asked about once too often.
	for k := range added {
		s.deletingTenants[k.tenant] = true
	}
	if err := s.stageDeletions(ctx, tx, added); err != nil {
		return err
	}
	for _, step := range []struct{ what, stmt string }{
		{"record deletions", recordDeletions},
		{"delete events", deleteEvents},
		{"delete logs", deleteLogs},
		{"delete task rows", deleteTaskRows},
	} {
		if _, err := tx.ExecContext(ctx, step.stmt); err != nil {
			return fmt.Errorf("%s: %w", step.what, err)
		}
	}
	if err := s.refoldTasks(ctx, tx); err != nil {
		return err
	}
	return s.deleteSamples(ctx, tx)
}

func (s *Store) stageDeletions(ctx context.Context, tx *sql.Tx, added deletions) error {
	if _, err := tx.ExecContext(ctx, createStagingDeletions); err != nil {
		return fmt.Errorf("create staging_deletions: %w", err)
	}
	keys := make([]taskKey, 0, len(added))
	for k := range added {
		keys = append(keys, k)
	}
	return s.appendRows(ctx, "temp.staging_deletions", deletionColumnNames, len(keys), func(row []driver.Value, i int) []driver.Value {
		o := added[keys[i]]
		return append(row, keys[i].tenant, keys[i].taskID, o.Timestamp, o.Seq, o.IngestOrder, o.EventID)
	})
}

// refoldTasks folds the rows of the deleted tasks again from the events
// left to them, those after their tombstones.
func (s *Store) refoldTasks(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, selectEventsLeft)
	if err != nil {
		return fmt.Errorf("read events left: %w", err)
	}
	defer rows.Close()
	var left []*schema.Progress
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return fmt.Errorf("read events left: %w", err)
		}
		left = append(left, &e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read events left: %w", err)
	}
	if len(left) == 0 {
		return nil
	}
	return s.mergeTasks(ctx, tx, foldEvents(left))
}

// deleteSamples removes the deleted tasks' samples and folds the rollup
// minutes they were in again from the samples left there.
func (s *Store) deleteSamples(ctx context.Context, tx *sql.Tx) error {
	minutes, err := deletedMinutes(ctx, tx)
	if err != nil || len(minutes) == 0 {
		return err
	}
	if _, err := tx.ExecContext(ctx, createStagingMinutes); err != nil {
		return fmt.Errorf("create staging_minutes: %w", err)
	}
	list := make([]*rollupRow, 0, len(minutes))
	for _, r := range minutes {
		list = append(list, r)
	}
	err = s.appendRows(ctx, "temp.staging_minutes", []string{"tenant", "name", "series", "label_keys", "label_values", "minute"},
		len(list), func(row []driver.Value, i int) []driver.Value {
			r := list[i]
			return append(row, r.tenant, r.name, r.series, r.keys, r.values, r.minute)
		})
	if err != nil {
		return fmt.Errorf("stage rollup minutes: %w", err)
	}
	if _, err := tx.ExecContext(ctx, deleteMinutes); err != nil {
		return fmt.Errorf("delete rollup minutes: %w", err)
	}
	left, err := samplesLeft(ctx, tx)
	if err != nil || len(left) == 0 {
		return err
	}
	return s.mergeRollup(ctx, tx, foldSamples(left))
}

// deletedMinutes deletes the samples the staged deletions cover and
// returns the rollup rows they were in, by key.
func deletedMinutes(ctx context.Context, tx *sql.Tx) (map[rollupKey]*rollupRow, error) {
	rows, err := tx.QueryContext(ctx, deleteSamples)
	if err != nil {
		return nil, fmt.Errorf("delete samples: %w", err)
	}
	defer rows.Close()
	minutes := map[rollupKey]*rollupRow{}
	for rows.Next() {
		var (
			tenant, name string
			keys, values []any
			ts           int64
		)
		if err := rows.Scan(&tenant, &name, &keys, &values, &ts); err != nil {
			return nil, fmt.Errorf("delete samples: %w", err)
		}
		labels, err := attrMap(keys, values)
		if err != nil {
			return nil, fmt.Errorf("delete samples: %w", err)
		}
		k := rollupKey{tenant, name, attrJSON(labels), minuteOf(ts)}
		if minutes[k] == nil {
			r := &rollupRow{rollupKey: k}
			r.keys, r.values = attrArrays(labels)
			minutes[k] = r
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("delete samples: %w", err)
	}
	return minutes, nil
}

// samplesLeft reads the samples of the staged rollup minutes.
func samplesLeft(ctx context.Context, tx *sql.Tx) ([]*schema.Metric, error) {
	rows, err := tx.QueryContext(ctx, selectSamplesLeft, store.RollupStep)
	if err != nil {
		return nil, fmt.Errorf("read samples left: %w", err)
	}
	defer rows.Close()
	var left []*schema.Metric
	for rows.Next() {
		var (
			m            schema.Metric
			kind         string
			keys, values []any
		)
		err := rows.Scan(&m.Tenant, &m.EventID, &m.Timestamp, &m.IngestOrder, &m.Name, &kind, &m.Value, &m.Unit,
			&keys, &values, &m.TaskID)
		if err != nil {
			return nil, fmt.Errorf("read samples left: %w", err)
		}
		m.Kind = schema.MetricKind(kind)
		if m.Labels, err = attrMap(keys, values); err != nil {
			return nil, fmt.Errorf("read samples left: %w", err)
		}
		left = append(left, &m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read samples left: %w", err)
	}
	return left, nil
}
