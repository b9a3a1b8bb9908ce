package clickhouse

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/taskpulse/taskpulse/schema"
)

// Deleting a task. Its tombstone, a progress event with status "deleted",
// is stored in task_deletions (schema/clickhouse/0020_task_deletions.sql),
// not among the events. A deletion covers the task's events at or before
// the tombstone's order key, and its logs and samples at or before the
// tombstone's millisecond. Three things keep those out of every answer:
//
//   - Reads leave them out at once, joining task_deletions (see
//     deletedAtJoin), since mutations are asynchronous.
//   - Inserts drop them, looking the batch's tasks up in task_deletions, so
//     an older record arriving after the tombstone is never stored.
//   - InsertProgress starts one ALTER TABLE ... DELETE per table that holds
//     the task's rows (on a cluster, on one replica of every shard: see
//     shards.go), which the server carries out in the background. The
//     per-task tables that materialized views fill (task_summary,
//     task_spans, task_updates, task_snapshots) lose every row of the task
//     and get rows computed again from the events after the tombstone. A
//     mutation only rewrites the parts that exist when it is made, so those
//     rows, and every later insert, stay. The log and sample indexes keep
//     their rows: metric_minutes and log_times do not name the task, and
//     log_tasks is how reads of log_times find the records a deletion
//     covers (deletedLogIDs); their rows lead to no record once the
//     mutation of logs or metrics is done.
//
// The one-minute rollup is computed again from the samples left in the
// minutes that held the task's samples, and the rows it replaces are
// removed by a mutation too. As metric_rollup keeps the row that saw the
// most samples, the old rows would win until that mutation is done, so
// those minutes are listed in metric_stale_minutes
// (schema/clickhouse/0021_metric_stale_minutes.sql) and series reads take
// them from the samples.

// taskKey names a task across tenants.
type taskKey struct{ tenant, taskID string }

// deletions maps deleted tasks to the order key of their latest tombstone.
type deletions map[taskKey]schema.Order

const insertDeletions = `INSERT INTO task_deletions (tenant, task_id, deleted_at, seq, ingest_order, event_id)`

// The tombstone is also written where task reads find a task's events,
// task_events (schema/clickhouse/0017_task_events.sql), whose status names
// deleted, so that a task whose latest event it is reads as deleted; it
// cannot go through progress_events, whose status and the per-task tables
// its views fill do not name deleted. And the task is listed as changed
// (task_changes, 0015), so that Stats computes its span again. The
// mutation of task_events removes the tombstone with the events it covers.
const (
	insertTombstoneEvents = `INSERT INTO task_events (tenant, task_id, event_id, timestamp, seq, ingest_order, status, version)`
	insertTaskChanges     = `INSERT INTO task_changes (tenant, changed_at, task_id)`
)

// An insert reads the deletions of its tasks in one of two ways. Most
// tenants have deleted few tasks or none, so it first reads every
// deletion of the batch's tenants, up to maxCandidates of them:
// selectTenantDeletions names only the tenants, which 18.16 parses in a
// moment, where naming a thousand tasks costs it some 50 to 150 ms. Past
// that many it names the batch's (tenant, task_id) pairs instead,
// maxCandidates at a time (selectTaskDeletions). Arguments: the set of
// tenants and the limit, or the set of pairs.
const (
	selectTenantDeletions = `SELECT tenant, task_id, latest.1, latest.2, latest.3, latest.4
FROM
(
    SELECT tenant, task_id, max((deleted_at, seq, ingest_order, event_id)) AS latest
    FROM task_deletions
    WHERE tenant IN ?
    GROUP BY tenant, task_id
    LIMIT ?
)`
	selectTaskDeletions = `SELECT tenant, task_id, latest.1, latest.2, latest.3, latest.4
FROM
(
    SELECT tenant, task_id, max((deleted_at, seq, ingest_order, event_id)) AS latest
    FROM task_deletions
    WHERE (tenant, task_id) IN ?
    GROUP BY tenant, task_id
)`
)

// deletedAtJoin follows a subquery of rows with tenant and task_id
// columns and joins them to the time their task was deleted,
// task_deleted_at, 0 for a task never deleted; a row is covered when its
// timestamp is not after it. Its one argument is the set of the rows'
// tenants. Current servers require both sides of a join to be named.
const deletedAtJoin = ` AS covered
ANY LEFT JOIN
(
    SELECT tenant, task_id, max(deleted_at) AS task_deleted_at
    FROM task_deletions
    WHERE tenant IN ?
    GROUP BY tenant, task_id
) AS deletion USING (tenant, task_id)`

// selectDeletedMinutes names the rollup minutes of the samples a deletion
// covers. The samples are sorted by event id, so this reads the tenant's;
// deletions are rare. Every stored copy counts, whichever wins.
const selectDeletedMinutes = `SELECT DISTINCT name, ` + minuteOf + `
FROM metrics
PREWHERE tenant = ?
WHERE task_id = ? AND timestamp <= ?`

const insertStaleMinutes = `INSERT INTO metric_stale_minutes (tenant, name, minute)`

// deleteRollupMinutes is the condition of the mutation of metric_rollup.
const deleteRollupMinutes = `(tenant, name, minute) IN ?`

// deletedKeyJoin follows a subquery of one tenant's events, with a
// task_id column, and joins them to the order key of their task's
// deletion, task_deleted_key, (0, 0, 0, ”) for a task never deleted,
// which every event follows. Its one argument is the tenant.
const deletedKeyJoin = ` AS covered
ANY LEFT JOIN
(
    SELECT task_id, max((deleted_at, seq, ingest_order, event_id)) AS task_deleted_key
    FROM task_deletions
    WHERE tenant = ?
    GROUP BY task_id
) AS deletion USING task_id`

// deletedLogIDs are the ids of one tenant's logs that a deletion covers,
// found through log_tasks, for the index reads that do not name the task.
// Arguments: tenant twice, then the tenant as a set (see deletedAtJoin).
const deletedLogIDs = `(
    SELECT event_id
    FROM
    (
        SELECT tenant, task_id, timestamp, event_id
        FROM log_tasks
        WHERE tenant = ? AND task_id IN (SELECT task_id FROM task_deletions WHERE tenant = ?)
    )` + deletedAtJoin + `
    WHERE timestamp <= task_deleted_at
)`

// deletedKey is the order key of a task's deletion, (0, 0, 0, ”) for a
// task never deleted, which every event follows. Arguments: tenant, task
// id.
const deletedKey = `(SELECT max((deleted_at, seq, ingest_order, event_id)) FROM task_deletions WHERE tenant = ? AND task_id = ?)`

// The per-task tables are computed again for one task, from its events
// after its tombstone, as their migrations backfill them. Arguments:
// tenant, task id, and the tombstone's order key.
const (
	eventsAfterTombstone = `
FROM progress_events FINAL
PREWHERE tenant = ? AND task_id = ?
WHERE (timestamp, seq, ingest_order, event_id) > (?, ?, ?, ?)
GROUP BY tenant, task_id`

	refoldSummary = `INSERT INTO task_summary (tenant, task_id, updated, latest)
SELECT tenant, task_id, maxState(timestamp),
    argMaxState((status, user_id, CAST(task_type AS String)), (timestamp, seq, ingest_order, event_id))` + eventsAfterTombstone

	refoldSpans = `INSERT INTO task_spans (tenant, task_id, created, started, updated, latest, ids, copies)
SELECT tenant, task_id, minState(timestamp), minIfState(timestamp, status = 'running'), maxState(timestamp),
    argMaxState((status, CAST(task_type AS String)), (timestamp, seq, ingest_order, event_id)),
    uniqUpToState(100)(cityHash64(event_id)),
    uniqUpToState(100)(cityHash64(event_id, timestamp, seq, ingest_order, toInt8(status), CAST(task_type AS String)))` + eventsAfterTombstone

	refoldUpdates = `INSERT INTO task_updates (tenant, updated, task_id, status, user_id, task_type)
SELECT tenant, max(timestamp), task_id,
    argMax(status, (timestamp, seq, ingest_order, event_id)),
    argMax(user_id, (timestamp, seq, ingest_order, event_id)),
    argMax(CAST(task_type AS String), (timestamp, seq, ingest_order, event_id))` + eventsAfterTombstone

	refoldSnapshots = `INSERT INTO task_snapshots (tenant, task_id, status, task_type, created, started, updated, taken_at)
SELECT tenant, task_id, latest.1, latest.2, created, started, updated, now()
FROM
(
    SELECT tenant, task_id,
        argMax((status, CAST(task_type AS String)), (timestamp, seq, ingest_order, event_id)) AS latest,
        min(timestamp) AS created, minIf(timestamp, status = 'running') AS started, max(timestamp) AS updated` +
		eventsAfterTombstone + `
)`
)

// The mutations, one per table a batch's tombstones touch, each the OR
// of one condition per tombstone.
var (
	eventsCovered  = `(tenant = ? AND task_id = ? AND (timestamp, seq, ingest_order, event_id) <= (?, ?, ?, ?))`
	recordsCovered = `(tenant = ? AND task_id = ? AND timestamp <= ?)`
	taskRows       = `(tenant = ? AND task_id = ?)`

	mutations = []struct {
		table, cond string
		args        func(k taskKey, o schema.Order) []any
	}{
		{"progress_events", eventsCovered, func(k taskKey, o schema.Order) []any {
			return []any{k.tenant, k.taskID, o.Timestamp, o.Seq, o.IngestOrder, o.EventID}
		}},
		{"task_events", eventsCovered, func(k taskKey, o schema.Order) []any {
			return []any{k.tenant, k.taskID, o.Timestamp, o.Seq, o.IngestOrder, o.EventID}
		}},
		{"logs", recordsCovered, recordArgs},
		{"metrics", recordsCovered, recordArgs},
		{"task_summary", taskRows, taskArgs},
		{"task_spans", taskRows, taskArgs},
		{"task_updates", taskRows, taskArgs},
		{"task_snapshots", taskRows, taskArgs},
	}
)

func recordArgs(k taskKey, o schema.Order) []any { return []any{k.tenant, k.taskID, o.Timestamp} }
func taskArgs(k taskKey, _ schema.Order) []any   { return []any{k.tenant, k.taskID} }

// splitTombstones takes the tombstones out of events. It returns the
// latest tombstone of each task that del, the stored deletions, does not
// cover, and adds them to del; and the other events. The stored deletion
// itself, delivered again, is returned too: its batch is delivered again
// when applyDeletions failed after storing it, and its mutations must
// then be made.
func splitTombstones(events []schema.Progress, del deletions) (deletions, []schema.Progress) {
	var tombs deletions
	for i := range events {
		e := &events[i]
		k := taskKey{e.Tenant, e.TaskID}
		if e.Status != schema.StatusDeleted {
			continue
		}
		if o, ok := del[k]; ok && o.After(e.Order()) {
			continue
		}
		if tombs == nil {
			tombs = deletions{}
		}
		tombs[k], del[k] = e.Order(), e.Order()
	}
	rest := events[:0:0]
	for _, e := range events {
		if e.Status != schema.StatusDeleted {
			rest = append(rest, e)
		}
	}
	return tombs, rest
}

// deletionsOf reads the stored deletions of the tasks of records that
// name one.
func deletionsOf[R any](ctx context.Context, s *Store, recs []R, task func(*R) taskKey) (deletions, error) {
	named := map[taskKey]bool{}
	var tenants []string
	for i := range recs {
		k := task(&recs[i])
		if k.taskID == "" || named[k] {
			continue
		}
		named[k] = true
		if !slices.Contains(tenants, k.tenant) {
			tenants = append(tenants, k.tenant)
		}
	}
	found := deletions{}
	if len(named) == 0 {
		return found, nil
	}
	all := deletions{}
	if err := s.readDeletions(ctx, all, selectTenantDeletions, groupSet(tenants), maxCandidates+1); err != nil {
		return nil, fmt.Errorf("read task deletions: %w", err)
	}
	if len(all) <= maxCandidates {
		for k, o := range all {
			if named[k] {
				found[k] = o
			}
		}
		return found, nil
	}
	pairs := make([]any, 0, len(named))
	for k := range named {
		pairs = append(pairs, clickhouse.GroupSet{Value: []any{k.tenant, k.taskID}})
	}
	for chunk := range slices.Chunk(pairs, maxCandidates) {
		if err := s.readDeletions(ctx, found, selectTaskDeletions, clickhouse.GroupSet{Value: chunk}); err != nil {
			return nil, fmt.Errorf("read task deletions: %w", err)
		}
	}
	return found, nil
}

// readDeletions adds the deletions query finds, one row a task, to found.
func (s *Store) readDeletions(ctx context.Context, found deletions, query string, args ...any) error {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k taskKey
		var o schema.Order
		if err := rows.Scan(&k.tenant, &k.taskID, &o.Timestamp, &o.Seq, &o.IngestOrder, &o.EventID); err != nil {
			return err
		}
		found[k] = o
	}
	return rows.Err()
}

// withoutCovered keeps the records no deletion covers; covered tells
// whether one deletion covers a record.
func withoutCovered[R any](recs []R, del deletions, task func(*R) taskKey, covered func(*R, schema.Order) bool) []R {
	if len(del) == 0 {
		return recs
	}
	kept := recs[:0:0]
	for i := range recs {
		o, ok := del[task(&recs[i])]
		if !ok || !covered(&recs[i], o) {
			kept = append(kept, recs[i])
		}
	}
	return kept
}

// applyDeletions stores tombs, starts the mutations that remove what they
// cover, and computes the per-task tables of their tasks again.
//
// A deletion is done when every step is, on a cluster when every shard
// took its mutations (onEveryShard). Until then applyDeletions fails, so
// the writer does not acknowledge the batch and delivers it again, and
// splitTombstones hands the stored tombstone back for every step to run
// again; each is safe to repeat. Meanwhile the stored tombstone already
// hides what it covers from reads and drops it from inserts. The rollup
// goes before the mutations: its minutes are found from the covered
// samples, which a mutation of metrics made by a failed attempt may have
// removed by the next one.
func (s *Store) applyDeletions(ctx context.Context, tombs deletions) error {
	keys := make([]taskKey, 0, len(tombs))
	for k := range tombs {
		keys = append(keys, k)
	}
	err := s.insertRows(ctx, insertDeletions, len(keys), func(i int) []any {
		o := tombs[keys[i]]
		return []any{keys[i].tenant, keys[i].taskID, o.Timestamp, o.Seq, o.IngestOrder, o.EventID}
	})
	if err != nil {
		return fmt.Errorf("store tombstones: %w", err)
	}
	version := firstWins()
	err = s.insertRows(ctx, insertTombstoneEvents, len(keys), func(i int) []any {
		o := tombs[keys[i]]
		return []any{keys[i].tenant, keys[i].taskID, o.EventID, o.Timestamp, o.Seq, o.IngestOrder, string(schema.StatusDeleted), version}
	})
	if err != nil {
		return fmt.Errorf("store tombstones as events: %w", err)
	}
	now := time.Now()
	err = s.insertRows(ctx, insertTaskChanges, len(keys), func(i int) []any {
		return []any{keys[i].tenant, now, keys[i].taskID}
	})
	if err != nil {
		return fmt.Errorf("list deleted tasks as changed: %w", err)
	}
	minutes, err := s.deletedMinutes(ctx, tombs)
	if err != nil {
		return err
	}
	if len(minutes) > 0 {
		if err := s.deleteMinutes(ctx, minutes); err != nil {
			return err
		}
	}
	dels := make([]rowDeletion, len(mutations))
	for j, m := range mutations {
		conds := make([]string, len(keys))
		var args []any
		for i, k := range keys {
			conds[i] = m.cond
			args = append(args, m.args(k, tombs[k])...)
		}
		dels[j] = rowDeletion{m.table, strings.Join(conds, " OR "), args}
	}
	if err := s.deleteRows(ctx, dels); err != nil {
		return err
	}
	refold := s.computedAgain(ctx)
	for _, k := range keys {
		o := tombs[k]
		for _, stmt := range []string{refoldSummary, refoldSpans, refoldUpdates, refoldSnapshots} {
			if err := s.conn.Exec(refold, stmt, k.tenant, k.taskID, o.Timestamp, o.Seq, o.IngestOrder, o.EventID); err != nil {
				return fmt.Errorf("compute task %s again: %w", k.taskID, err)
			}
		}
	}
	return nil
}

// deletedMinutes reads the rollup minutes of the samples tombs cover.
func (s *Store) deletedMinutes(ctx context.Context, tombs deletions) (map[minuteKey]bool, error) {
	minutes := map[minuteKey]bool{}
	for k, o := range tombs {
		rows, err := s.conn.Query(ctx, selectDeletedMinutes, k.tenant, k.taskID, o.Timestamp)
		if err != nil {
			return nil, fmt.Errorf("read deleted samples: %w", err)
		}
		for rows.Next() {
			m := minuteKey{tenant: k.tenant}
			if err := rows.Scan(&m.name, &m.minute); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read deleted samples: %w", err)
			}
			minutes[m] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read deleted samples: %w", err)
		}
	}
	return minutes, nil
}

// deleteMinutes lists minutes as stale, for reads to take them from the
// samples, starts the removal of their rollup rows and writes them again
// from the samples no deletion covers, which the removal, made first,
// leaves in place.
func (s *Store) deleteMinutes(ctx context.Context, minutes map[minuteKey]bool) error {
	list := slices.Collect(maps.Keys(minutes))
	err := s.insertRows(ctx, insertStaleMinutes, len(list), func(i int) []any {
		return []any{list[i].tenant, list[i].name, list[i].minute}
	})
	if err != nil {
		return fmt.Errorf("list stale rollup minutes: %w", err)
	}
	var dels []rowDeletion
	for chunk := range slices.Chunk(list, maxMinutes) {
		triples := make([]any, len(chunk))
		for i, m := range chunk {
			triples[i] = clickhouse.GroupSet{Value: []any{m.tenant, m.name, m.minute}}
		}
		dels = append(dels, rowDeletion{"metric_rollup", deleteRollupMinutes, []any{clickhouse.GroupSet{Value: triples}}})
	}
	if err := s.deleteRows(ctx, dels); err != nil {
		return err
	}
	return s.recomputeRollup(s.computedAgain(ctx), minutes)
}

// computedAgain is ctx for inserting the rows a deletion computes again.
// A replicated table drops an inserted block equal to one of the last it
// took (replicated_deduplication_window), even one the deletion's own
// mutation removes: the rows of a task computed again may equal those a
// view inserted with its newer events, or an earlier attempt of the same
// deletion, and would then be lost. Tables that are not replicated do not
// deduplicate.
func (s *Store) computedAgain(ctx context.Context) context.Context {
	if !s.tables.clustered() {
		return ctx
	}
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_deduplicate": 0}))
}

// rowDeletion is one mutation: the deletion of table's rows that match
// where.
type rowDeletion struct {
	table, where string
	args         []any
}

// deleteRows starts dels, on a cluster on every shard. A mutation of a
// replicated table made on one replica is the shard's: the others take
// it from ZooKeeper.
func (s *Store) deleteRows(ctx context.Context, dels []rowDeletion) error {
	return s.onEveryShard(ctx, func(ctx context.Context, _ int, conn driver.Conn) error {
		for _, d := range dels {
			if err := conn.Exec(ctx, "ALTER TABLE "+s.tables.stored(d.table)+" DELETE WHERE "+d.where, d.args...); err != nil {
				return fmt.Errorf("delete from %s: %w", d.table, err)
			}
		}
		return nil
	})
}
