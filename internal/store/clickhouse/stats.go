package clickhouse

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

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
// events instead; refreshSnapshots writes the changed ones back now and
// then, which keeps that set small. The statistics are folded on the
// server, so what comes back is a row per task type.
//
// The statement is statsFoldHead and statsFoldTail around the spans of
// snapshotSpans and, when there are stale tasks, staleSpans. Both name the stale tasks,
// the snapshot rows to leave out and the tasks to compute, by the same list
// of ids (selectStaleTasks) when it is short enough to send, so each task
// is counted from exactly one of them. A longer list is named by the
// subquery instead, which each side builds for itself: a task changed in
// the moment between the two may then be counted twice or not at all by
// that one read. The snapshot rows are filtered above FINAL, which must
// pick each task's newest row before any filter on columns outside the
// sorting key sees it.
//
// Of the spans that meet [from, to), a task counts by status when its
// latest event is before to (ended); it counts as started in the bucket of
// its first event, and as completed or failed in the bucket of its latest
// event when that left it so. Its duration, kept when it ended completed,
// failed or cancelled, runs from its first running event, or its first
// event if it never ran, to its latest; the durations of a type are sorted
// for the percentiles (see quantileOf).
//
// statsFold is written around the spans, statsFoldHead before them and
// statsFoldTail after. Arguments: from and step for the buckets, to, then
// those of the spans.
var statsFoldHead = `SELECT task_type, by_status.1, by_status.2, started.1, started.2, completed.1, completed.2, failed.1, failed.2,
    finished, failures, ` + quantileOf("0.5") + `, ` + quantileOf("0.9") + `, ` + quantileOf("0.99") + `
FROM
(
    SELECT
        task_type,
        sumMapIf([toInt8(status)], [toUInt64(1)], ended) AS by_status,
        sumMapIf([created - (created - from_ms) % step_ms], [toUInt64(1)], created >= from_ms) AS started,
        sumMapIf([updated - (updated - from_ms) % step_ms], [toUInt64(1)], ended AND status = 'completed') AS completed,
        sumMapIf([updated - (updated - from_ms) % step_ms], [toUInt64(1)], ended AND status = 'failed') AS failed,
        countIf(done) AS finished,
        countIf(done AND status = 'failed') AS failures,
        arraySort(groupArrayIf(updated - if(started_at = 0, created, started_at), done)) AS durations
    FROM
    (
        SELECT
            status, task_type, created, started AS started_at, updated,
            toInt64(?) AS from_ms, toInt64(?) AS step_ms,
            updated < ? AS ended,
            ended AND status IN ('completed', 'failed', 'cancelled') AS done
        FROM
        (
            `

const statsFoldTail = `
        )
    )
    GROUP BY task_type
)`

// snapshotSpans are the snapshot rows that meet [from, to), less the stale
// tasks when followed by " AND task_id NOT IN" and their list. Arguments:
// tenant, from, to.
const snapshotSpans = `SELECT status, task_type, created, started, updated
            FROM
            (
                SELECT task_id, status, task_type, created, started, updated
                FROM task_snapshots FINAL
                WHERE tenant = ?
            )
            WHERE updated >= ? AND created < ?`

// staleSpans computes the spans of the stale tasks that meet [from, to) as
// stateSelect computes a task's state. Arguments: tenant, the list's, from,
// to.
const staleSpans = `
            UNION ALL
            SELECT latest.1, latest.2, created_at, started_at, updated_at
            FROM
            (
                SELECT
                    task_id,
                    argMax((status, CAST(task_type AS String)), (timestamp, seq, ingest_order, event_id)) AS latest,
                    min(timestamp) AS created_at,
                    minIf(timestamp, status = 'running') AS started_at,
                    max(timestamp) AS updated_at
                FROM progress_events FINAL
                PREWHERE tenant = ? AND task_id IN %s
                GROUP BY task_id
            )
            WHERE updated_at >= ? AND created_at < ?`

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
// Arguments: tenant, tenant, the second.
const selectChangedSpans = `SELECT task_id, latest.1, latest.2, created_at, started_at, updated_at
FROM
(
    SELECT
        task_id,
        argMax((status, CAST(task_type AS String)), (timestamp, seq, ingest_order, event_id)) AS latest,
        min(timestamp) AS created_at,
        minIf(timestamp, status = 'running') AS started_at,
        max(timestamp) AS updated_at
    FROM progress_events FINAL
    PREWHERE tenant = ? AND task_id IN (SELECT task_id FROM task_changes WHERE tenant = ? AND changed_at >= toDateTime(?))
    GROUP BY task_id
)`

// insertSnapshots writes the spans a refresh computed.
const insertSnapshots = `INSERT INTO task_snapshots (tenant, task_id, status, task_type, created, started, updated, taken_at)`

// snapshotMargin is how long after its server time an insert may become
// visible to reads, in seconds: a change older than the newest snapshot by
// more than this is in it. Writer batches take seconds; this leaves room
// for a server under strain. refreshEvery is how often at most Stats
// writes the changed spans back, which bounds the parts it adds to the
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
// Arguments: from, step, tenant, the ERROR rank, from - margin, to + margin,
// from, to.
const selectErrorLogs = `SELECT toInt64(first_ts - (first_ts - toInt64(?)) % toInt64(?)) AS t, count()
FROM
(
    SELECT argMax(timestamp, version) AS first_ts
    FROM log_times
    WHERE tenant = ? AND level_rank >= ? AND timestamp >= ? AND timestamp < ?
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
// selectErrorLogs.
func (s *Store) Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error) {
	st := store.Stats{ByStatus: map[schema.Status]int64{}, Intervals: []store.IntervalCounts{}, Types: []store.TypeStats{}, ErrorLogs: []store.Point{}}
	if q.Tenant == "" {
		return st, errors.New("task stats: tenant is required")
	}
	if q.Step <= 0 || q.To <= q.From {
		return st, fmt.Errorf("task stats: need step > 0 and to > from, got step %d over [%d, %d)", q.Step, q.From, q.To)
	}
	since, err := s.refreshSnapshots(ctx, q.Tenant)
	if err != nil {
		return st, fmt.Errorf("task stats: %w", err)
	}
	if err := s.taskStats(ctx, &st, q, since); err != nil {
		return st, fmt.Errorf("task stats: %w", err)
	}
	if st.ErrorLogs, err = s.errorLogs(ctx, q); err != nil {
		return st, fmt.Errorf("task stats: error logs: %w", err)
	}
	return st, nil
}

// refreshSnapshots returns the unix second from which the tenant's changes
// may be missing from its snapshots. When the newest snapshot is older
// than refreshEvery it first computes every task changed since then from
// its events and writes it back, stamped with the server time read before
// the computation: a change after that time is listed after it.
func (s *Store) refreshSnapshots(ctx context.Context, tenant string) (int64, error) {
	var newest, now uint32
	if err := s.conn.QueryRow(ctx, selectSnapshotTimes, tenant).Scan(&newest, &now); err != nil {
		return 0, err
	}
	since := max(int64(newest)-snapshotMargin, 0)
	if int64(now)-int64(newest) < refreshEvery {
		return since, nil
	}
	type span struct {
		taskID, status, taskType  string
		created, started, updated int64
	}
	spans, err := collect(ctx, s.conn, func(r driver.Rows) (span, error) {
		var t span
		return t, r.Scan(&t.taskID, &t.status, &t.taskType, &t.created, &t.started, &t.updated)
	}, selectChangedSpans, tenant, tenant, since)
	if err != nil || len(spans) == 0 {
		// Preparing a batch sends the INSERT, so none is prepared for
		// nothing.
		return since, err
	}
	batch, err := s.conn.PrepareBatch(ctx, insertSnapshots)
	if err != nil {
		return 0, fmt.Errorf("refresh task snapshots: %w", err)
	}
	defer batch.Abort()
	takenAt := time.Unix(int64(now), 0)
	for _, t := range spans {
		if err := batch.Append(tenant, t.taskID, t.status, t.taskType, t.created, t.started, t.updated, takenAt); err != nil {
			return 0, fmt.Errorf("refresh task snapshots: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return 0, fmt.Errorf("refresh task snapshots: %w", err)
	}
	return max(int64(now)-snapshotMargin, 0), nil
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
	spans, args := snapshotSpans, []any{q.From, q.Step, q.To, q.Tenant, q.From, q.To}
	switch {
	case len(ids) > maxCandidates:
		spans += " AND task_id NOT IN " + staleTasks + fmt.Sprintf(staleSpans, staleTasks)
		args = append(append(append(append(args, stale...), q.Tenant), stale...), q.From, q.To)
	case len(ids) > 0:
		spans += " AND task_id NOT IN ?" + fmt.Sprintf(staleSpans, "?")
		args = append(args, groupSet(ids), q.Tenant, groupSet(ids), q.From, q.To)
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
			ts                                   store.TypeStats
			statuses                             []int8
			byStatus, started, completed, failed []uint64
			startedAt, completedAt, failedAt     []int64
			finished, failures                   uint64
		)
		err := rows.Scan(&ts.TaskType, &statuses, &byStatus, &startedAt, &started, &completedAt, &completed, &failedAt, &failed,
			&finished, &failures, &ts.DurationP50Ms, &ts.DurationP90Ms, &ts.DurationP99Ms)
		if err != nil {
			return err
		}
		for i, code := range statuses {
			st.ByStatus[statusOf(code)] += int64(byStatus[i])
		}
		for i, t := range startedAt {
			at(t).Started += int64(started[i])
		}
		for i, t := range completedAt {
			at(t).Completed += int64(completed[i])
		}
		for i, t := range failedAt {
			at(t).Failed += int64(failed[i])
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

// statusOf names the status stored as Enum8 value code (schema/clickhouse/0001).
func statusOf(code int8) schema.Status {
	statuses := [...]schema.Status{schema.StatusPending, schema.StatusRunning, schema.StatusPaused, schema.StatusCompleted, schema.StatusFailed, schema.StatusCancelled}
	return statuses[code-1]
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
		q.From-errorLogMargin, q.To+errorLogMargin, q.From, q.To)
	if points == nil {
		points = []store.Point{}
	}
	return points, err
}
