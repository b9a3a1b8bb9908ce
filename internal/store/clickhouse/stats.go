package clickhouse

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"golang.org/x/sync/errgroup"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Stats reads each task's span (its latest status and type, and its first,
// first running and latest timestamps) from task_snapshots
// (schema/clickhouse/0015_task_snapshots.sql), one plain row per task
// computed from the deduplicated events, instead of merging the tenant's
// events with FINAL or merging per-task aggregate states. A row is exact
// as of its taken_at. The stale tasks, those changed since the tenant's
// newest taken_at less snapshotMargin and those old enough that retention
// may have removed some of their events, are computed again from their
// events instead (from task_events, whose small granules make a few
// hundred tasks cheap to read). The writer writes the changed ones back
// now and then (RefreshTaskSnapshots), which keeps that set small; Stats
// itself only reads. The statistics are folded on the server, so what
// comes back is a row per task type.
//
// The statement is statsFoldHead and statsFoldTail around the spans. When
// the stale tasks (selectStaleTasks) are few enough to send as a list,
// they are snapshotSpans less that list, and staleSpans for it: both sides
// name the same list, so each task is counted from exactly one of them. A
// longer list is a subquery, which would be evaluated once for each side,
// and a task changed between the two evaluations would be counted twice
// or not at all; mergedSpans therefore evaluates it once and takes, per
// task, the span computed from its events over its snapshot row. That
// groups every task of the tenant, which costs more, and is only needed
// when the writer has not refreshed the snapshots for a while. The
// snapshot rows are filtered above FINAL, which must pick each task's
// newest row before any filter on columns outside the sorting key sees it.
//
// A task whose current status is deleted is left out. Statuses go
// through the fold as their Enum8 values (statusCode), which task_events
// and task_snapshots share, rather than as text: converting every snapshot
// row's status to a string and looking it up costs the fold a fifth of its
// time.
//
// Of the spans that meet [from, to), a task counts by status when its
// latest event is before to (ended); it counts as started in the bucket of
// its first event when that is at or after from, and as completed or
// failed in the bucket of its latest event when that left it so. Its
// duration, kept when it ended completed, failed or cancelled, runs from
// its first running event, or its first event if it never ran, to its
// latest; the durations of a type are sorted for the percentiles (see
// quantileOf).
//
// The fold groups the spans by type, status, bucket of their first and of
// their latest event, and the flags that decide what they count for, into
// cells of a count each, and gathers each type's cells and sorted
// durations; the counts per status and interval are summed from the cells
// here. One GROUP BY of plain keys costs 18.16 a third of what folding the
// same rows into maps (sumMap) did.
//
// statsFold is written around the spans, statsFoldHead before them and
// statsFoldTail after. Arguments: from and step for the buckets, to, then
// those of the spans.
var statsFoldHead = `SELECT task_type, cells.1, cells.2, cells.3, cells.4, cells.5, cells.6, length(durations),
    ` + quantileOf("0.5") + `, ` + quantileOf("0.9") + `, ` + quantileOf("0.99") + `
FROM
(
    SELECT task_type, groupArray((place, first_bucket, last_bucket, in_range, ended, n)) AS cells, arraySort(groupArrayArray(durs)) AS durations
    FROM
    (
        SELECT
            task_type,
            status AS place,
            created - (created - from_ms) % step_ms AS first_bucket,
            updated - (updated - from_ms) % step_ms AS last_bucket,
            created >= from_ms AS in_range,
            ended,
            count() AS n,
            groupArrayIf(updated - if(started_at = 0, created, started_at), done) AS durs
        FROM
        (
            SELECT
                status, task_type, created, started AS started_at, updated,
                toInt64(?) AS from_ms, toInt64(?) AS step_ms,
                updated < ? AS ended,
                ended AND status IN (` + doneCodes + `) AS done
            FROM
            (
            `

const statsFoldTail = `
            )
        )
        GROUP BY task_type, place, first_bucket, last_bucket, in_range, ended
    )
    GROUP BY task_type
)`

// statusCode is the Enum8 value of a status of task_events and
// task_snapshots (schema/clickhouse/0017_task_events.sql, 0019), as
// statusOf names it: both enums give every status the same value. Spans
// computed from events carry the status as text, which statusCode maps to
// the same number. doneCodes are the codes of completed, failed and
// cancelled, deletedCode that of deleted.
const (
	statusCode  = `toUInt8(indexOf(['pending', 'running', 'paused', 'completed', 'failed', 'cancelled', 'deleted'], status))`
	doneCodes   = `4, 5, 6`
	deletedCode = `7`
)

// snapshotSpans are the snapshot rows that meet [from, to), less the stale
// tasks when followed by " AND task_id NOT IN" and their list. Arguments:
// tenant, from, to.
const snapshotSpans = `SELECT status_code AS status, task_type, created, started, updated
            FROM
            (
                SELECT task_id, toUInt8(status) AS status_code, task_type, created, started, updated
                FROM task_snapshots FINAL
                WHERE tenant = ?
            )
            WHERE updated >= ? AND created < ? AND status_code != ` + deletedCode

// spansOf computes the spans of the tasks a set names from their
// deduplicated events, as stateSelect computes a task's state, leaving
// out what a deletion covers. The status is text. Arguments: tenant, the
// set's, tenant.
const spansOf = `SELECT task_id, toString(latest.1) AS status, latest.2 AS task_type, created_at, started_at, updated_at
                FROM
                (
                    SELECT
                        task_id,
                        argMax((status, CAST(task_type AS String)), key) AS latest,
                        min(timestamp) AS created_at,
                        minIf(timestamp, status = 'running') AS started_at,
                        max(timestamp) AS updated_at
                    FROM
                    (
                        SELECT task_id, status, task_type, timestamp, (timestamp, seq, ingest_order, event_id) AS key
                        FROM task_events FINAL
                        PREWHERE tenant = ? AND task_id IN %s
                    )` + deletedKeyJoin + `
                    WHERE key > task_deleted_key
                    GROUP BY task_id
                )`

// staleSpans adds the spans of the stale tasks that meet [from, to) to
// snapshotSpans. Arguments: those of spansOf, from, to.
const staleSpans = `
            UNION ALL
            SELECT ` + statusCode + ` AS status_code, task_type, created_at, started_at, updated_at
            FROM
            (
                ` + spansOf + `
            )
            WHERE updated_at >= ? AND created_at < ? AND status_code != ` + deletedCode

// mergedSpans are the spans that meet [from, to) of every task, taken from
// its events when the set names it (fresh) and else from its snapshot.
// Arguments: tenant, those of spansOf, from, to.
const mergedSpans = `SELECT span.1 AS status, span.2 AS task_type, span.3 AS created, span.4 AS started, span.5 AS updated
            FROM
            (
                SELECT task_id, argMax((status_code, task_type, created, started, updated), fresh) AS span
                FROM
                (
                    SELECT task_id, toUInt8(status) AS status_code, task_type, created, started, updated, 0 AS fresh
                    FROM task_snapshots FINAL
                    WHERE tenant = ?
                    UNION ALL
                    SELECT task_id, ` + statusCode + `, task_type, created_at, started_at, updated_at, 1
                    FROM
                    (
                        ` + spansOf + `
                    )
                )
                GROUP BY task_id
            )
            WHERE span.5 >= ? AND span.3 < ? AND span.1 != ` + deletedCode

// staleTasks are the tasks changed at or after a unix second, and those
// whose span reaches from before the retention horizon to from or later,
// whose snapshot rows may count expired events. A task's newer snapshot
// rows only reach further both ways, so any of its rows tells. Arguments:
// tenant, the second, tenant, horizon, from.
const staleTasks = `(SELECT task_id FROM task_changes WHERE tenant = ? AND changed_at >= toDateTime(?)
    UNION ALL SELECT task_id FROM task_snapshots WHERE tenant = ? AND created < ? AND updated >= ?)`

// selectStaleTasks lists staleTasks, one id a row, up to a limit.
const selectStaleTasks = `SELECT DISTINCT task_id FROM ` + staleTasks + `
LIMIT ?`

// quantileOf is the q-quantile of the sorted, non-empty durations by
// linear interpolation between the two closest ranks, as the DuckDB
// store's quantile_cont computes it; 0 when there are none. The text is
// built from constants only.
func quantileOf(q string) string {
	h := "(" + q + " * (length(durations) - 1))"
	lo := "(toUInt64(floor(" + h + ")) + 1)"
	hi := "least(" + lo + " + 1, length(durations))"
	return "if(empty(durations), 0, durations[" + lo + "] + (" + h + " - floor(" + h + ")) * (durations[" + hi + "] - durations[" + lo + "]))"
}

// selectSnapshotTimes gives the tenant's newest taken_at and the server's
// clock, both in unix seconds: the changes that may be missing from the
// snapshots are those from the first less snapshotMargin, and a refresh
// stamps its rows with the second, which is read before the events are.
const selectSnapshotTimes = `SELECT toUInt32(max(taken_at)), toUInt32(now()) FROM task_snapshots WHERE tenant = ?`

// selectChangedSpans computes the span of every task changed at or after a
// unix second from its events, as staleSpans computes the stale ones.
// Arguments: tenant, tenant, the second, tenant.
var selectChangedSpans = fmt.Sprintf(spansOf, "(SELECT task_id FROM task_changes WHERE tenant = ? AND changed_at >= toDateTime(?))")

// insertSnapshots writes the spans a refresh computed.
const insertSnapshots = `INSERT INTO task_snapshots (tenant, task_id, status, task_type, created, started, updated, taken_at)`

// snapshotMargin is how long after its server time an insert may become
// visible to reads, in seconds: a change older than the newest snapshot by
// more than this is in it. Writer batches take seconds; this leaves room
// for a server under strain. refreshEvery is how often at most a tenant's
// changed spans are written back, which bounds the parts that adds to the
// table.
const (
	snapshotMargin = int64(5 * time.Minute / time.Second)
	refreshEvery   = int64(time.Minute / time.Second)
)

// retentionHorizon is how old a task's first event may be before Stats
// stops trusting its snapshot: progress events expire 90 days after their
// timestamp (schema/clickhouse/0004_retention.sql), and a snapshot taken
// before some of them expired still counts them. A day short of that
// leaves room for clocks and for queries that run across the boundary.
const retentionHorizon = int64(89 * 24 * time.Hour / time.Millisecond)

// selectErrorLogs counts ERROR and CRITICAL records per bucket from the
// log_times index alone (schema/clickhouse/0011_log_indexes.sql): reading
// them from logs with FINAL would merge every record of the range, some
// three seconds for a month of five million records on 18.16.
//
// The index lists every stored copy with its version, and of the copies
// of one record the one stored first wins, as in logs: each record counts
// once, at the timestamp of the copy with the greatest version among those
// read. The read reaches errorLogMargin beyond the range on either side, so
// a record redelivered whole, or sent again by a client that left the
// timestamp to ingest (which stamps each copy when it arrives, the later
// copy losing), counts once and in the bucket of its first copy, also when
// its copies straddle a bucket or the range. What the index cannot show is
// a copy outside the margin or below ERROR: a client that reuses an
// event_id for another record more than errorLogMargin away, or at another
// level, may see it counted where the listing, which reads the winning copy
// from logs, would not show it.
//
// The records a task's deletion covers are left out (deletedLogIDs, see
// delete.go).
//
// Arguments: from, step, tenant, the ERROR rank, from - margin, to + margin,
// those of deletedLogIDs, from, to.
const selectErrorLogs = `SELECT toInt64(first_ts - (first_ts - toInt64(?)) % toInt64(?)) AS t, count()
FROM
(
    SELECT argMax(timestamp, version) AS first_ts
    FROM log_times
    WHERE tenant = ? AND level_rank >= ? AND timestamp >= ? AND timestamp < ?
        AND event_id NOT IN ` + deletedLogIDs + `
    GROUP BY event_id
)
WHERE first_ts >= ? AND first_ts < ?
GROUP BY t
ORDER BY t`

// errorLogMargin is how far beyond a range selectErrorLogs looks for other
// copies of the records in it, in milliseconds: more than any client's
// retries of one request take.
const errorLogMargin = int64(time.Hour / time.Millisecond)

// Stats computes a tenant's task statistics over [q.From, q.To) on the
// server: the task statistics by taskStats, the error counts by
// selectErrorLogs. The two read different tables and take about as long,
// so they run at once, each on a connection of its own.
func (s *Store) Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error) {
	st := store.Stats{ByStatus: map[schema.Status]int64{}, Intervals: []store.IntervalCounts{}, Types: []store.TypeStats{}, ErrorLogs: []store.Point{}}
	if q.Tenant == "" {
		return st, errors.New("task stats: tenant is required")
	}
	if q.Step <= 0 || q.To <= q.From {
		return st, fmt.Errorf("task stats: need step > 0 and to > from, got step %d over [%d, %d)", q.Step, q.From, q.To)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		since, _, err := s.snapshotTimes(gctx, q.Tenant)
		if err == nil {
			err = s.taskStats(gctx, &st, q, since)
		}
		if err != nil {
			return fmt.Errorf("task stats: %w", err)
		}
		return nil
	})
	var logs []store.Point
	g.Go(func() (err error) {
		if logs, err = s.errorLogs(gctx, q); err != nil {
			return fmt.Errorf("task stats: error logs: %w", err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return st, err
	}
	st.ErrorLogs = logs
	return st, nil
}

// RefreshTaskSnapshots brings the tenant's task snapshots up to date, so
// that Stats computes few tasks from their events: when the newest
// snapshot is older than refreshEvery, it computes every task changed
// since then, less snapshotMargin, from its events and writes it back,
// stamped with the server time read before the computation, so a change
// after that time is listed after it. The writer calls it for the tenants
// it stores progress of; Stats only reads what it wrote.
func (s *Store) RefreshTaskSnapshots(ctx context.Context, tenant string) error {
	since, now, err := s.snapshotTimes(ctx, tenant)
	if err != nil {
		return fmt.Errorf("refresh task snapshots: %w", err)
	}
	if now-since < snapshotMargin+refreshEvery {
		return nil
	}
	type span struct {
		taskID, status, taskType  string
		created, started, updated int64
	}
	spans, err := collect(ctx, s.conn, func(r driver.Rows) (span, error) {
		var t span
		return t, r.Scan(&t.taskID, &t.status, &t.taskType, &t.created, &t.started, &t.updated)
	}, selectChangedSpans, tenant, tenant, since, tenant)
	if err != nil {
		return fmt.Errorf("refresh task snapshots: %w", err)
	}
	if len(spans) == 0 {
		// Preparing a batch sends the INSERT, so none is prepared for
		// nothing.
		return nil
	}
	batch, err := s.conn.PrepareBatch(ctx, insertSnapshots)
	if err != nil {
		return fmt.Errorf("refresh task snapshots: %w", err)
	}
	defer batch.Abort()
	takenAt := time.Unix(now, 0)
	for _, t := range spans {
		if err := batch.Append(tenant, t.taskID, t.status, t.taskType, t.created, t.started, t.updated, takenAt); err != nil {
			return fmt.Errorf("refresh task snapshots: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("refresh task snapshots: %w", err)
	}
	return nil
}

// snapshotTimes returns the unix second from which the tenant's changes
// may be missing from its snapshots, and the server's clock.
func (s *Store) snapshotTimes(ctx context.Context, tenant string) (since, now int64, err error) {
	var newest, clock uint32
	if err := s.conn.QueryRow(ctx, selectSnapshotTimes, tenant).Scan(&newest, &clock); err != nil {
		return 0, 0, err
	}
	return max(int64(newest)-snapshotMargin, 0), int64(clock), nil
}

// taskStats runs the statistics statement and gathers its rows, one per task type, into
// st.
func (s *Store) taskStats(ctx context.Context, st *store.Stats, q store.StatsQuery, since int64) error {
	stale := []any{q.Tenant, since, q.Tenant, time.Now().UnixMilli() - retentionHorizon, q.From}
	ids, err := collect(ctx, s.conn, func(r driver.Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	}, selectStaleTasks, append(stale, maxCandidates+1)...)
	if err != nil {
		return err
	}
	var spans string
	args := []any{q.From, q.Step, q.To}
	switch {
	case len(ids) > maxCandidates:
		spans = fmt.Sprintf(mergedSpans, staleTasks)
		args = append(append(append(args, q.Tenant, q.Tenant), stale...), q.Tenant, q.From, q.To)
	case len(ids) > 0:
		spans = snapshotSpans + " AND task_id NOT IN ?" + fmt.Sprintf(staleSpans, "?")
		args = append(args, q.Tenant, q.From, q.To, groupSet(ids), q.Tenant, groupSet(ids), q.Tenant, q.From, q.To)
	default:
		spans = snapshotSpans
		args = append(args, q.Tenant, q.From, q.To)
	}
	rows, err := s.conn.Query(ctx, statsFoldHead+spans+statsFoldTail, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	intervals := map[int64]*store.IntervalCounts{}
	at := func(t int64) *store.IntervalCounts {
		if intervals[t] == nil {
			intervals[t] = &store.IntervalCounts{T: t}
		}
		return intervals[t]
	}
	for rows.Next() {
		var (
			ts                 store.TypeStats
			places             []uint8
			counts             []uint64
			firsts, lasts      []int64
			inRange, ended     []uint8
			finished, failures uint64
		)
		err := rows.Scan(&ts.TaskType, &places, &firsts, &lasts, &inRange, &ended, &counts,
			&finished, &ts.DurationP50Ms, &ts.DurationP90Ms, &ts.DurationP99Ms)
		if err != nil {
			return err
		}
		for i, place := range places {
			n := counts[i]
			if inRange[i] == 1 {
				at(firsts[i]).Started += int64(n)
			}
			if ended[i] == 0 || place == 0 {
				continue
			}
			status := statusOf(place)
			st.ByStatus[status] += int64(n)
			switch status {
			case schema.StatusCompleted:
				at(lasts[i]).Completed += int64(n)
			case schema.StatusFailed:
				at(lasts[i]).Failed += int64(n)
				failures += n
			}
		}
		if finished > 0 {
			ts.Finished, ts.Failed = int64(finished), int64(failures)
			ts.FailureRate = float64(failures) / float64(finished)
			st.Types = append(st.Types, ts)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, c := range intervals {
		st.Intervals = append(st.Intervals, *c)
	}
	slices.SortFunc(st.Intervals, func(a, b store.IntervalCounts) int { return cmp.Compare(a.T, b.T) })
	slices.SortFunc(st.Types, func(a, b store.TypeStats) int {
		return cmp.Or(cmp.Compare(b.Failed, a.Failed), cmp.Compare(a.TaskType, b.TaskType))
	})
	return nil
}

// statusOf names the status of a statusCode.
func statusOf(place uint8) schema.Status {
	statuses := [...]schema.Status{schema.StatusPending, schema.StatusRunning, schema.StatusPaused, schema.StatusCompleted, schema.StatusFailed, schema.StatusCancelled}
	return statuses[place-1]
}

func (s *Store) errorLogs(ctx context.Context, q store.StatsQuery) ([]store.Point, error) {
	points, err := collect(ctx, s.conn, func(r driver.Rows) (store.Point, error) {
		var (
			p store.Point
			n uint64
		)
		err := r.Scan(&p.T, &n)
		p.V = float64(n)
		return p, err
	}, selectErrorLogs, q.From, q.Step, q.Tenant, schema.LevelError.Rank(),
		q.From-errorLogMargin, q.To+errorLogMargin, q.Tenant, q.Tenant, groupSet([]string{q.Tenant}), q.From, q.To)
	if points == nil {
		points = []store.Point{}
	}
	return points, err
}
