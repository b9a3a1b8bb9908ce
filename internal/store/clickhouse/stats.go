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

var _ store.StatsStore = (*Store)(nil)

// selectTaskSpans reads, for every task that can count in a window
// [from, to), its current status and type and its first, first running and
// latest timestamps, computed from its deduplicated events as stateSelect
// computes a task's state. Every statistic concerns tasks whose latest event
// is at or after from, so task_summary narrows the tasks first: its latest
// timestamp is a max over every stored copy, never below the exact one, so
// it keeps every task that can count. Arguments: tenant, tenant, from, from,
// to.
const selectTaskSpans = `SELECT latest.1, latest.2, created_at, started_at, updated_at
FROM
(
    SELECT
        argMax((status, task_type), (timestamp, seq, ingest_order, event_id)) AS latest,
        min(timestamp) AS created_at,
        minIf(timestamp, status = 'running') AS started_at,
        max(timestamp) AS updated_at
    FROM progress_events FINAL
    PREWHERE tenant = ? AND task_id IN
        (SELECT task_id FROM task_summary WHERE tenant = ? GROUP BY task_id HAVING maxMerge(updated) >= ?)
    GROUP BY task_id
)
WHERE updated_at >= ? AND created_at < ?`

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
	return collect(ctx, s.conn, func(r driver.Rows) (taskSpan, error) {
		var (
			t      taskSpan
			status string
		)
		err := r.Scan(&status, &t.taskType, &t.created, &t.started, &t.updated)
		t.status = schema.Status(status)
		return t, err
	}, selectTaskSpans, q.Tenant, q.Tenant, q.From, q.From, q.To)
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
