package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/taskpulse/taskpulse/internal/store"
)

// Retention is how long the store keeps each signal, counted back from
// now on the signal's own timestamp. Zero keeps it forever.
type Retention struct {
	Progress, Logs, Metrics, Rollups time.Duration
}

// Expired rows leave a table in one of two ways, because DuckDB never
// reclaims the space of deleted rows in a table with an index: its
// checkpoint vacuums row groups only when the table has none, and every
// table but logs and metrics has its primary key. A DELETE would hide the
// rows and keep the file as large, and it is slow besides, since each row
// leaves the key's ART (some 20,000 rows a second here). Logs and metrics
// are compacted all the same, which keeps their rows in the order they
// were appended, the order their look-ups by id_time prune on.
//
//   - The event tables, progress_events, logs and metrics, are only ever
//     appended to, so they are compacted: the rows within the horizon are
//     copied into a fresh table without holding inserts back, then, under
//     the write lock, the rows appended meanwhile (those past the copy's
//     largest rowid) are copied too and the fresh table takes the old
//     one's name. Dropping the old table frees its blocks at the next
//     checkpoint, and later inserts fill them before the file grows. A
//     table is compacted once a tenth of it is past the horizon, so it
//     holds at most that much expired data, and the copy, which costs as
//     much as the rows kept, runs about ten times per horizon.
//   - tasks and metric_rollup are updated in place by every batch, which a
//     copy taken outside the write lock could miss, and they hold one row
//     per task or per series and minute; their expired rows are deleted in
//     small chunks under the write lock.
const (
	// compactShare: a table is compacted once expired rows are at least
	// 1/compactShare of it.
	compactShare = 10
	// deleteChunk is the most rows one delete transaction removes.
	deleteChunk = 1_000
	// compactSuffix names the fresh table a compaction fills.
	compactSuffix = "_compact"
)

// expiry is one table's rule: rows whose column is below the cutoff are
// past the horizon of the signal they belong to.
type expiry struct {
	table, column string
	horizon       func(Retention) time.Duration
	// span is how far past its column a row's data reaches: a rollup row
	// covers the whole minute it starts.
	span int64
	// compact says the table is append-only and compacted; otherwise its
	// expired rows are deleted.
	compact bool
}

// expiries go table by table. A task's row goes once its latest event,
// and so every event it was folded from, is past the progress horizon:
// updated_at is the greatest timestamp of its events.
var expiries = []expiry{
	{table: "progress_events", column: "timestamp", horizon: func(r Retention) time.Duration { return r.Progress }, compact: true},
	{table: "tasks", column: "updated_at", horizon: func(r Retention) time.Duration { return r.Progress }},
	{table: "logs", column: "timestamp", horizon: func(r Retention) time.Duration { return r.Logs }, compact: true},
	{table: "metrics", column: "timestamp", horizon: func(r Retention) time.Duration { return r.Metrics }, compact: true},
	{table: "metric_rollup", column: "minute", horizon: func(r Retention) time.Duration { return r.Rollups }, span: store.RollupStep},
}

// RetentionResult is what one retention pass did.
type RetentionResult struct {
	// Removed counts the expired rows removed, by table.
	Removed map[string]int64
	// LongestLock is the longest the pass held inserts back in one go: a
	// delete chunk, the end of a compaction or the checkpoint; Checkpoint
	// is how long the checkpoint took.
	LongestLock, Checkpoint time.Duration
	// CheckpointDeferred says a query kept the checkpoint from running.
	CheckpointDeferred bool
}

// Rows is every row the pass removed.
func (r RetentionResult) Rows() int64 {
	var n int64
	for _, d := range r.Removed {
		n += d
	}
	return n
}

// Empty says the pass removed nothing.
func (r RetentionResult) Empty() bool { return r.Rows() == 0 }

func (r RetentionResult) String() string {
	if r.Empty() {
		return "nothing removed"
	}
	var parts []string
	for _, e := range expiries {
		if n := r.Removed[e.table]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", e.table, n))
		}
	}
	checkpoint := fmt.Sprintf("checkpoint %s", r.Checkpoint.Round(time.Millisecond))
	if r.CheckpointDeferred {
		checkpoint = "checkpoint left to DuckDB"
	}
	return fmt.Sprintf("removed %s rows; inserts waited %s at most, %s", strings.Join(parts, ", "), r.LongestLock.Round(time.Millisecond), checkpoint)
}

// errCompactRaced says rows the compaction copied changed before it took
// the lock; the next pass compacts again.
var errCompactRaced = errors.New("rows changed during the copy")

// EnforceRetention removes the rows past r's horizons as of now, then
// checkpoints, so that the blocks they held are free for later inserts.
func (s *Store) EnforceRetention(ctx context.Context, r Retention, now time.Time) (RetentionResult, error) {
	res := RetentionResult{Removed: map[string]int64{}}
	for _, e := range expiries {
		h := e.horizon(r)
		if h <= 0 {
			continue
		}
		cutoff := now.Add(-h).UnixMilli() - e.span
		var err error
		if e.compact {
			err = s.compact(ctx, e, cutoff, &res)
		} else {
			err = s.deleteExpired(ctx, e, cutoff, &res)
		}
		if errors.Is(err, errCompactRaced) {
			s.log.Info("retention: compaction skipped until the next pass", "table", e.table, "reason", err)
		} else if err != nil {
			return res, fmt.Errorf("retention: %s: %w", e.table, err)
		}
	}
	if res.Rows() == 0 {
		return res, nil
	}
	// A checkpoint waits for no transaction: with a read open it fails,
	// and DuckDB's next automatic checkpoint frees the blocks instead.
	err := s.locked(func() error {
		start := time.Now()
		_, err := s.writer.ExecContext(ctx, "CHECKPOINT")
		res.Checkpoint = time.Since(start)
		return err
	}, &res)
	if err != nil {
		s.log.Info("retention: checkpoint left to DuckDB", "reason", err)
		res.CheckpointDeferred = true
	}
	return res, nil
}

// locked runs f under the write lock and records how long it held it.
func (s *Store) locked(f func() error, res *RetentionResult) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	start := time.Now()
	defer func() { res.LongestLock = max(res.LongestLock, time.Since(start)) }()
	return f()
}

// compact rebuilds e's table from its rows at or after cutoff, once
// enough of it has expired.
func (s *Store) compact(ctx context.Context, e expiry, cutoff int64, res *RetentionResult) error {
	fresh := e.table + compactSuffix
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// A compaction cut short leaves its fresh table behind.
	if _, err := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+fresh); err != nil {
		return err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var total, expired, lastRow int64
	if err := tx.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE %s < ?), coalesce(max(rowid), -1) FROM %s`,
		e.column, e.table), cutoff).Scan(&total, &expired, &lastRow); err != nil {
		return fmt.Errorf("count expired rows: %w", err)
	}
	if expired == 0 || expired*compactShare < total {
		return nil
	}
	var indexes int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_indexes() WHERE schema_name = 'main' AND table_name = ?`, e.table).Scan(&indexes); err != nil {
		return fmt.Errorf("list indexes: %w", err)
	}
	if indexes > 0 {
		return errors.New("the table has an index beside its primary key, which a compaction would drop")
	}
	var ddl string
	if err := tx.QueryRowContext(ctx, `SELECT sql FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?`, e.table).Scan(&ddl); err != nil {
		return fmt.Errorf("read table definition: %w", err)
	}
	create, ok := strings.CutPrefix(ddl, "CREATE TABLE "+e.table+"(")
	if !ok {
		return fmt.Errorf("unexpected table definition %q", ddl)
	}
	if _, err := tx.ExecContext(ctx, "CREATE TABLE "+fresh+"("+create); err != nil {
		return fmt.Errorf("create %s: %w", fresh, err)
	}
	copied, err := exec(ctx, tx, fmt.Sprintf(`INSERT INTO %s SELECT * FROM %s WHERE rowid <= ? AND %s >= ?`, fresh, e.table, e.column), lastRow, cutoff)
	if err != nil {
		return fmt.Errorf("copy kept rows: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit copy: %w", err)
	}
	err = s.locked(func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			var kept int64
			if err := tx.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE rowid <= ? AND %s >= ?`, e.table, e.column),
				lastRow, cutoff).Scan(&kept); err != nil {
				return fmt.Errorf("count kept rows: %w", err)
			}
			// Only a deletion takes rows away from an append-only table;
			// one since the copy would come back with it.
			if kept != copied {
				return errCompactRaced
			}
			if _, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s SELECT * FROM %s WHERE rowid > ? AND %s >= ?`, fresh, e.table, e.column), lastRow, cutoff); err != nil {
				return fmt.Errorf("copy rows appended since: %w", err)
			}
			if _, err := tx.ExecContext(ctx, "DROP TABLE "+e.table); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "ALTER TABLE "+fresh+" RENAME TO "+e.table)
			return err
		})
	}, res)
	if err != nil {
		if _, derr := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+fresh); derr != nil {
			err = errors.Join(err, derr)
		}
		return err
	}
	res.Removed[e.table] += total - copied
	return nil
}

// deleteExpired deletes e's rows below cutoff, deleteChunk rows per
// transaction.
func (s *Store) deleteExpired(ctx context.Context, e expiry, cutoff int64, res *RetentionResult) error {
	query := fmt.Sprintf(`DELETE FROM %[1]s WHERE rowid IN (SELECT rowid FROM %[1]s WHERE %[2]s < ? LIMIT %[3]d)`, e.table, e.column, deleteChunk)
	for {
		var n int64
		err := s.locked(func() error {
			return s.inTx(ctx, func(tx *sql.Tx) error {
				var err error
				n, err = exec(ctx, tx, query, cutoff)
				return err
			})
		}, res)
		if err != nil {
			return fmt.Errorf("delete expired rows: %w", err)
		}
		res.Removed[e.table] += n
		if n < deleteChunk {
			return nil
		}
	}
}

// exec runs a statement and says how many rows it changed.
func exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (int64, error) {
	r, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}
