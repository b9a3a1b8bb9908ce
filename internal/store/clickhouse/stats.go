package clickhouse

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Stats reads each task's span from task_spans
// (schema/clickhouse/0012_task_spans.sql), one small row per task once
// merged, instead of merging the tenant's events with FINAL. The spans
// aggregate every stored copy of every event: min, minIf, max and one
// argMax over the order key (timestamp, seq, ingest_order, event_id), as
// stateSelect takes the latest event. These are idempotent, so a
// redelivered copy changes no count and the order of arrival does not
// matter, and they equal the values computed from the deduplicated events
// whenever the copies of each event agree on the order key, status and
// type. The summary tells where they may not: its count of distinct
// (event, order key, status, type) hashes then differs from its count of
// distinct event hashes, or the task has more events than the summary
// counts (agree is 0 either way). Those tasks, and tasks old enough
// that retention may have removed some of their events, are computed again
// from their events with FINAL (selectTaskSpans), which keeps the copy
// stored first, as every read does.
//
// Since each span is over a superset of the deduplicated events, its
// created is never above the exact one and its updated never below, so the
// window filter keeps every task that can count. Arguments: tenant, from,
// to.
const selectSpanSummaries = `SELECT task_id, latest_fields.1, latest_fields.2, created_at, started_at, updated_at, agree
FROM
(
    SELECT
        task_id,
        argMaxMerge(latest) AS latest_fields,
        minMerge(created) AS created_at,
        minIfMerge(started) AS started_at,
        maxMerge(updated) AS updated_at,
        uniqUpToMerge(100)(ids) AS id_count,
        id_count <= 100 AND id_count = uniqUpToMerge(100)(copies) AS agree
    FROM task_spans
    WHERE tenant = ?
    GROUP BY task_id
)
WHERE updated_at >= ? AND created_at < ?`

// selectTaskSpans computes, for the tasks its filter names, the same span
// from their deduplicated events as stateSelect computes a task's state.
// The filter is either the task ids whose summary may differ (task_id IN
// ?) or, when those are too many to name, every task whose task_summary
// shows a latest event at or after from. Arguments: tenant, the filter's
// argument, from, to.
const selectTaskSpans = `SELECT task_id, latest.1, latest.2, created_at, started_at, updated_at
FROM
(
    SELECT
        task_id,
        argMax((status, task_type), (timestamp, seq, ingest_order, event_id)) AS latest,
        min(timestamp) AS created_at,
        minIf(timestamp, status = 'running') AS started_at,
        max(timestamp) AS updated_at
    FROM progress_events FINAL
    PREWHERE tenant = ? AND task_id IN %s
    GROUP BY task_id
)
WHERE updated_at >= ? AND created_at < ?`

// spanTasksNamed and spanTasksRecent are the filters of selectTaskSpans.
const (
	spanTasksNamed  = `?`
	spanTasksRecent = `(SELECT task_id FROM task_summary WHERE tenant = ? GROUP BY task_id HAVING maxMerge(updated) >= ?)`
)

// retentionHorizon is how old a task's first event may be before Stats
// stops trusting its summary: progress events expire 90 days after their
// timestamp (schema/clickhouse/0004_retention.sql), and task_spans, whose
// rows are aggregate states, cannot expire with them. A day short of that
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

// taskSpan is what the statistics need of one task.
type taskSpan struct {
	taskID                    string
	agree                     bool // the summary's copies agree (selectSpanSummaries only)
	status                    schema.Status
	taskType                  string
	created, started, updated int64 // started is 0 when the task never ran
}

// Stats computes a tenant's task statistics over [q.From, q.To): the task
// spans and error counts come from the server, and are folded here.
func (s *Store) Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error) {
	st := store.Stats{ByStatus: map[schema.Status]int64{}, Intervals: []store.IntervalCounts{}, Types: []store.TypeStats{}, ErrorLogs: []store.Point{}}
	if q.Tenant == "" {
		return st, errors.New("task stats: tenant is required")
	}
	if q.Step <= 0 || q.To <= q.From {
		return st, fmt.Errorf("task stats: need step > 0 and to > from, got step %d over [%d, %d)", q.Step, q.From, q.To)
	}
	spans, err := s.taskSpans(ctx, q)
	if err != nil {
		return st, fmt.Errorf("task stats: %w", err)
	}
	foldSpans(&st, q, spans)
	if st.ErrorLogs, err = s.errorLogs(ctx, q); err != nil {
		return st, fmt.Errorf("task stats: error logs: %w", err)
	}
	return st, nil
}

func (s *Store) taskSpans(ctx context.Context, q store.StatsQuery) ([]taskSpan, error) {
	var recheck []string
	horizon := time.Now().UnixMilli() - retentionHorizon
	summaries, err := collect(ctx, s.conn, func(r driver.Rows) (taskSpan, error) {
		t, err := scanSpan(r, true)
		if err == nil && (!t.agree || t.created < horizon) {
			recheck = append(recheck, t.taskID)
		}
		return t, err
	}, selectSpanSummaries, q.Tenant, q.From, q.To)
	if err != nil || len(recheck) == 0 {
		return summaries, err
	}
	scan := func(r driver.Rows) (taskSpan, error) { return scanSpan(r, false) }
	if len(recheck) > maxCandidates {
		// Naming this many ids would outgrow the query text; recomputing
		// every recent task costs what the summary saves.
		return collect(ctx, s.conn, scan, fmt.Sprintf(selectTaskSpans, spanTasksRecent), q.Tenant, q.Tenant, q.From, q.From, q.To)
	}
	exact, err := collect(ctx, s.conn, scan, fmt.Sprintf(selectTaskSpans, spanTasksNamed), q.Tenant, groupSet(recheck), q.From, q.To)
	if err != nil {
		return nil, err
	}
	spans := exact
	for _, t := range summaries {
		if t.agree && t.created >= horizon {
			spans = append(spans, t)
		}
	}
	return spans, nil
}

// scanSpan reads a row of selectSpanSummaries (withAgree) or of
// selectTaskSpans.
func scanSpan(r driver.Rows, withAgree bool) (taskSpan, error) {
	var (
		t      taskSpan
		status string
		agree  uint8
	)
	dest := []any{&t.taskID, &status, &t.taskType, &t.created, &t.started, &t.updated}
	if withAgree {
		dest = append(dest, &agree)
	}
	err := r.Scan(dest...)
	t.status = schema.Status(status)
	t.agree = agree == 1
	return t, err
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

// foldSpans computes the task statistics of st from the spans. A task
// counts by status when its latest event is in range; it counts as started
// in the bucket of its first event, and as completed or failed in the
// bucket of its latest event when that left it so. Its duration runs from
// its first running event, or its first event if it never ran, to its
// latest.
func foldSpans(st *store.Stats, q store.StatsQuery, spans []taskSpan) {
	bucket := func(ts int64) int64 { return ts - (ts-q.From)%q.Step }
	intervals := map[int64]*store.IntervalCounts{}
	at := func(ts int64) *store.IntervalCounts {
		t := bucket(ts)
		if intervals[t] == nil {
			intervals[t] = &store.IntervalCounts{T: t}
		}
		return intervals[t]
	}
	types := map[string]*store.TypeStats{}
	durations := map[string][]float64{}
	for _, t := range spans {
		if t.created >= q.From {
			at(t.created).Started++
		}
		if t.updated >= q.To {
			continue
		}
		st.ByStatus[t.status]++
		switch t.status {
		case schema.StatusCompleted:
			at(t.updated).Completed++
		case schema.StatusFailed:
			at(t.updated).Failed++
		}
		if t.status != schema.StatusCompleted && t.status != schema.StatusFailed && t.status != schema.StatusCancelled {
			continue
		}
		ts := types[t.taskType]
		if ts == nil {
			ts = &store.TypeStats{TaskType: t.taskType}
			types[t.taskType] = ts
		}
		ts.Finished++
		if t.status == schema.StatusFailed {
			ts.Failed++
		}
		start := cmp.Or(t.started, t.created)
		durations[t.taskType] = append(durations[t.taskType], float64(t.updated-start))
	}
	for _, c := range intervals {
		st.Intervals = append(st.Intervals, *c)
	}
	slices.SortFunc(st.Intervals, func(a, b store.IntervalCounts) int { return cmp.Compare(a.T, b.T) })
	for name, ts := range types {
		ds := durations[name]
		slices.Sort(ds)
		ts.FailureRate = float64(ts.Failed) / float64(ts.Finished)
		ts.DurationP50Ms, ts.DurationP90Ms, ts.DurationP99Ms = quantile(ds, 0.50), quantile(ds, 0.90), quantile(ds, 0.99)
		st.Types = append(st.Types, *ts)
	}
	slices.SortFunc(st.Types, func(a, b store.TypeStats) int {
		return cmp.Or(cmp.Compare(b.Failed, a.Failed), cmp.Compare(a.TaskType, b.TaskType))
	})
}

// quantile is the q-quantile of sorted, non-empty xs by linear
// interpolation between the two closest ranks, as the DuckDB store's
// quantile_cont computes it.
func quantile(xs []float64, q float64) float64 {
	h := q * float64(len(xs)-1)
	lo := int(math.Floor(h))
	hi := min(lo+1, len(xs)-1)
	return xs[lo] + (h-float64(lo))*(xs[hi]-xs[lo])
}
