package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

var _ store.LogStore = (*Store)(nil)

// logColumns fixes the order in which log rows are appended and read.
const logColumns = `tenant, event_id, timestamp, ingest_order, task_id, user_id, level, level_rank,
    message, source, trace_id, span_id, attr_keys, attr_values`

// A log batch is appended to staging_logs, replaced per batch like the
// progress staging tables, then copied with INSERT OR IGNORE so that
// records already stored are skipped.
const (
	createStagingLogs = `CREATE OR REPLACE TEMP TABLE staging_logs AS
SELECT ` + logColumns + ` FROM logs LIMIT 0`
	insertNewLogs = `INSERT OR IGNORE INTO logs (` + logColumns + `)
SELECT ` + logColumns + ` FROM staging_logs`
)

// InsertLogs stores logs in one transaction, all or none. Records already
// stored, and repeats within the batch, are skipped.
func (s *Store) InsertLogs(ctx context.Context, logs []schema.Log) error {
	batch, err := distinctLogs(logs)
	if err != nil {
		return fmt.Errorf("insert logs batch: %w", err)
	}
	if len(batch) == 0 {
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.insertLogs(ctx, batch); err != nil {
		return fmt.Errorf("insert logs batch: %w", err)
	}
	return nil
}

// distinctLogs checks the fields every stored record needs and keeps the
// first copy of each event id.
func distinctLogs(logs []schema.Log) ([]*schema.Log, error) {
	seen := make(map[eventKey]struct{}, len(logs))
	batch := make([]*schema.Log, 0, len(logs))
	for i := range logs {
		l := &logs[i]
		if l.Tenant == "" || l.EventID == "" || l.Timestamp == 0 || !l.Level.Valid() {
			return nil, fmt.Errorf("log %d: tenant, event_id, timestamp and a valid level are required", i)
		}
		k := eventKey{l.Tenant, l.EventID}
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		batch = append(batch, l)
	}
	return batch, nil
}

func (s *Store) insertLogs(ctx context.Context, batch []*schema.Log) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, createStagingLogs); err != nil {
		return fmt.Errorf("create staging_logs: %w", err)
	}
	if err := s.appendRows(ctx, "staging_logs", len(batch), func(row []driver.Value, i int) []driver.Value {
		return logRow(row, batch[i])
	}); err != nil {
		return fmt.Errorf("stage logs: %w", err)
	}
	if _, err := tx.ExecContext(ctx, insertNewLogs); err != nil {
		return fmt.Errorf("insert logs: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// logRow appends l's values in the order of logColumns.
func logRow(row []driver.Value, l *schema.Log) []driver.Value {
	keys, values := attrArrays(l.Attributes)
	return append(row, l.Tenant, l.EventID, l.Timestamp, l.IngestOrder, l.TaskID, l.UserID,
		string(l.Level), int8(l.Level.Rank()), l.Message, l.Source, l.TraceID, l.SpanID, keys, values)
}

// scanLog reads a row selected with logColumns.
func scanLog(rows *sql.Rows) (schema.Log, error) {
	var (
		l            schema.Log
		level        string
		rank         int8
		keys, values []any
	)
	err := rows.Scan(&l.Tenant, &l.EventID, &l.Timestamp, &l.IngestOrder, &l.TaskID, &l.UserID,
		&level, &rank, &l.Message, &l.Source, &l.TraceID, &l.SpanID, &keys, &values)
	if err != nil {
		return l, fmt.Errorf("scan log: %w", err)
	}
	l.Level = schema.Level(level)
	if l.Attributes, err = attrMap(keys, values); err != nil {
		return l, fmt.Errorf("scan log %s: %w", l.EventID, err)
	}
	return l, nil
}
