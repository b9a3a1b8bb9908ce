package clickhouse

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Retention is how long the store keeps each signal, counted back from
// now on the signal's own timestamp. Zero keeps it forever.
type Retention struct {
	Progress, Logs, Metrics, Rollups time.Duration
}

// A server that takes a table TTL keeps the horizons itself: the pass sets
// each table's TTL to its horizon, and merges drop the expired rows. 20.1
// is the first release whose MODIFY TTL replaces a TTL already set (19.6
// brought TTL, but before ClickHouse#8422 a modified TTL kept the old
// expression too), which the pass needs whenever a horizon changes; REMOVE
// TTL, for a horizon of 0, came with 20.12.
//
// Older servers, 18.16 among them, get a mutation per table that deletes
// the rows past the horizon. Dropping whole partitions would be cheaper,
// but no table here has a partition key, on purpose (0001_progress_events.sql):
// copies of an event may carry different timestamps, and copies in two
// partitions never collapse, so a time partition would count a retried
// event twice. A mutation rewrites every part that holds an expired row,
// so the pass counts first and mutates only when some row is past a
// cutoff that moves a day at a time, at most once a day per table, and
// never while its previous mutation of that table is still running.
// Rows therefore live up to a day past their horizon there.
//
// Both ways are idempotent: a second writer running the same pass sets the
// same TTL, or finds the mutation running or the rows gone.
//
// On a cluster the pass runs on one replica of every shard (shards.go), on
// the local tables: each shard's TTL, mutations and expired rows are its
// own, and a replicated table's TTL or mutation set on one replica reaches
// the shard's others. A shard none of whose replicas answers fails the
// pass; the others keep what it did there, and the next pass finishes it.
var (
	ttlSince       = []int{20, 1}
	removeTTLSince = []int{20, 12}
)

// expiry is one table's rule: its rows whose column, at unit milliseconds
// a step, is span milliseconds or more past the signal's horizon have
// expired.
type expiry struct {
	table, column string
	horizon       func(Retention) time.Duration
	// seconds says the column is a DateTime rather than unix milliseconds.
	seconds bool
	// span is how long after its column a row still describes data that
	// is kept.
	span time.Duration
}

// expiries cover every table a query reads; a table the database lacks
// yet is passed over. The tables made of a task's
// events (task_updates, task_snapshots) go by the task's latest event,
// whose expiry means all of its events have expired. A task_changes row
// waits two days longer: ingest takes timestamps a day ahead of time, so
// the events inserted with it have expired by then (as in 0016).
// task_summary and task_spans hold aggregate states no query reads any
// more, with no time column a TTL or a mutation could test.
var expiries = []expiry{
	{table: "progress_events", column: "timestamp", horizon: progressHorizon},
	{table: "task_events", column: "timestamp", horizon: progressHorizon},
	{table: "task_updates", column: "updated", horizon: progressHorizon},
	{table: "task_snapshots", column: "updated", horizon: progressHorizon},
	{table: "task_changes", column: "changed_at", horizon: progressHorizon, seconds: true, span: 48 * time.Hour},
	{table: "logs", column: "timestamp", horizon: logsHorizon},
	{table: "log_times", column: "timestamp", horizon: logsHorizon},
	{table: "log_tasks", column: "timestamp", horizon: logsHorizon},
	{table: "metrics", column: "timestamp", horizon: metricsHorizon},
	{table: "metric_minutes", column: "minute", horizon: metricsHorizon, span: time.Minute},
	{table: "metric_rollup", column: "minute", horizon: func(r Retention) time.Duration { return r.Rollups }, span: time.Minute},
}

func progressHorizon(r Retention) time.Duration { return r.Progress }
func logsHorizon(r Retention) time.Duration     { return r.Logs }
func metricsHorizon(r Retention) time.Duration  { return r.Metrics }

// ttl is the TTL clause keeping e's rows for horizon h, as the server
// prints it in system.tables.engine_full, so that an unchanged TTL is
// recognised and left alone: every MODIFY TTL rewrites the table's parts.
func (e expiry) ttl(h time.Duration) string {
	at := e.column
	if !e.seconds {
		at = "toDateTime(intDiv(" + e.column + ", 1000))"
	}
	keep := h + e.span
	if keep%(24*time.Hour) == 0 {
		return fmt.Sprintf("%s + toIntervalDay(%d)", at, keep/(24*time.Hour))
	}
	return fmt.Sprintf("%s + toIntervalSecond(%d)", at, keep/time.Second)
}

// RetentionResult is what one retention pass did: a line per table it
// changed.
type RetentionResult struct {
	Actions []string
}

// Empty says the pass changed nothing.
func (r RetentionResult) Empty() bool { return len(r.Actions) == 0 }

func (r RetentionResult) String() string {
	if r.Empty() {
		return "nothing to change"
	}
	return strings.Join(r.Actions, "; ")
}

// EnforceRetention brings every table in line with r as of now: its TTL
// on servers that take one, else a mutation deleting its expired rows.
func (s *Store) EnforceRetention(ctx context.Context, r Retention, now time.Time) (RetentionResult, error) {
	var res RetentionResult
	var version string
	if err := s.conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		return res, fmt.Errorf("retention: read server version: %w", err)
	}
	server, err := parseVersion(version)
	if err != nil {
		return res, fmt.Errorf("retention: read server version: %w", err)
	}
	var mu sync.Mutex
	byShard := map[int][]string{}
	err = s.onEveryShard(ctx, func(ctx context.Context, shard int, conn driver.Conn) error {
		actions, err := s.retain(ctx, conn, server, r, now)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		byShard[shard] = actions
		return nil
	})
	for _, shard := range slices.Sorted(maps.Keys(byShard)) {
		for _, a := range byShard[shard] {
			if shard > 0 {
				a = fmt.Sprintf("shard %d: %s", shard, a)
			}
			res.Actions = append(res.Actions, a)
		}
	}
	if err != nil {
		return res, fmt.Errorf("retention: %w", err)
	}
	return res, nil
}

// retain brings the tables on the server of conn in line with r, server
// being its version, and says what it changed, a line per table.
func (s *Store) retain(ctx context.Context, conn driver.Conn, server []int, r Retention, now time.Time) ([]string, error) {
	engines, err := s.tableEngines(ctx, conn)
	if err != nil {
		return nil, err
	}
	useTTL := compareVersions(server, ttlSince) >= 0
	var actions []string
	for _, e := range expiries {
		// On a cluster the TTL is the local table's, which holds the rows.
		engine, ok := engines[s.tables.localName(e.table)]
		if !ok {
			continue
		}
		var action string
		if useTTL {
			action, err = s.setTTL(ctx, conn, e, engine, e.horizon(r), compareVersions(server, removeTTLSince) >= 0)
		} else {
			action, err = s.deleteExpired(ctx, conn, e, e.horizon(r), now)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.table, err)
		}
		if action != "" {
			actions = append(actions, e.table+": "+action)
		}
	}
	return actions, nil
}

// tableEngines maps the database's tables on the server of conn to their
// engine_full, which holds their TTL.
func (s *Store) tableEngines(ctx context.Context, conn driver.Conn) (map[string]string, error) {
	rows, err := conn.Query(ctx, `SELECT name, engine_full FROM system.tables WHERE database = `+s.tables.inDatabase())
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	engines := map[string]string{}
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		engines[name] = engine
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return engines, nil
}

// setTTL gives e's table on the server of conn, of the engine given, the
// TTL of horizon h, or none for 0, unless it has it already.
func (s *Store) setTTL(ctx context.Context, conn driver.Conn, e expiry, engine string, h time.Duration, canRemove bool) (string, error) {
	hasTTL := strings.Contains(engine, " TTL ")
	switch {
	case h <= 0 && !hasTTL:
		return "", nil
	case h <= 0 && !canRemove:
		return "", fmt.Errorf("keeping it forever takes REMOVE TTL, which this server lacks (ClickHouse 20.12 has it)")
	case h <= 0:
		return "TTL removed", conn.Exec(ctx, "ALTER TABLE "+s.tables.stored(e.table)+" REMOVE TTL")
	}
	want := e.ttl(h)
	if strings.Contains(engine, " TTL "+want) {
		return "", nil
	}
	return "TTL " + want, conn.Exec(ctx, "ALTER TABLE "+s.tables.stored(e.table)+" MODIFY TTL "+want)
}

// deleteExpired starts a mutation deleting e's rows on the server of conn
// past horizon h as of the start of now's day, when there are any and no
// earlier one is still running.
func (s *Store) deleteExpired(ctx context.Context, conn driver.Conn, e expiry, h time.Duration, now time.Time) (string, error) {
	if h <= 0 {
		return "", nil
	}
	cutoff := now.UTC().Truncate(24 * time.Hour).Add(-h - e.span)
	bound := fmt.Sprint(cutoff.UnixMilli())
	if e.seconds {
		bound = fmt.Sprintf("toDateTime(%d)", cutoff.Unix())
	}
	var running uint64
	if err := conn.QueryRow(ctx, `SELECT count() FROM system.mutations WHERE database = `+s.tables.inDatabase()+` AND table = ? AND is_done = 0`,
		s.tables.localName(e.table)).Scan(&running); err != nil {
		return "", fmt.Errorf("read running mutations: %w", err)
	}
	if running > 0 {
		return "", nil
	}
	where := e.column + " < " + bound
	var expired uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+s.tables.stored(e.table)+" WHERE "+where).Scan(&expired); err != nil {
		return "", fmt.Errorf("count expired rows: %w", err)
	}
	if expired == 0 {
		return "", nil
	}
	if err := conn.Exec(ctx, "ALTER TABLE "+s.tables.stored(e.table)+" DELETE WHERE "+where); err != nil {
		return "", fmt.Errorf("delete expired rows: %w", err)
	}
	return fmt.Sprintf("deleting %d rows before %s", expired, cutoff.Format(time.DateOnly)), nil
}
