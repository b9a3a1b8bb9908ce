package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// logColumns fixes the order in which log rows are read; appends add
// id_time (see eventids.go).
const logColumns = `tenant, event_id, timestamp, ingest_order, task_id, user_id, level, level_rank,
    message, source, trace_id, span_id, attr_keys, attr_values`

var logAppendColumns = append(columnNames(logColumns), "id_time")

// InsertLogs stores logs in one transaction, all or none. Records already
// stored, repeats within the batch and records of a deleted task from
// before its deletion (see delete.go) are skipped.
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
	batch, err = undeleted(ctx, s, batch, func(l *schema.Log) (taskKey, int64) { return taskKey{l.Tenant, l.TaskID}, l.Timestamp })
	if err != nil {
		return fmt.Errorf("insert logs batch: %w", err)
	}
	if len(batch) == 0 {
		return nil
	}
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

// insertLogs appends the records of batch that logs does not hold yet.
func (s *Store) insertLogs(ctx context.Context, batch []*schema.Log) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		batch, times, err := unstored(ctx, s, tx, "logs", batch, func(l *schema.Log) eventKey { return eventKey{l.Tenant, l.EventID} })
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		if err := s.appendRows(ctx, "logs", logAppendColumns, len(batch), func(row []driver.Value, i int) []driver.Value {
			return logRow(row, batch[i], times[i])
		}); err != nil {
			return fmt.Errorf("append logs: %w", err)
		}
		return nil
	})
}

// logRow appends l's values, idTime its id's, in the order of
// logAppendColumns.
func logRow(row []driver.Value, l *schema.Log, idTime int64) []driver.Value {
	keys, values := attrLists(l.Attributes)
	return append(row, l.Tenant, l.EventID, l.Timestamp, l.IngestOrder, l.TaskID, l.UserID,
		string(l.Level), int8(l.Level.Rank()), l.Message, l.Source, l.TraceID, l.SpanID, keys, values, idTime)
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

// A log search is selectLogs, one condition per filter in use, then
// orderLogsNewestFirst. Each piece takes its values as parameters.
const (
	selectLogs      = `SELECT ` + logColumns + ` FROM logs WHERE tenant = ?`
	whereMinLevel   = ` AND level_rank >= ?`
	whereLogTaskID  = ` AND task_id = ?`
	whereLogUserID  = ` AND user_id = ?`
	whereLogSource  = ` AND source = ?`
	whereLogSince   = ` AND timestamp >= ?`
	whereLogUntil   = ` AND timestamp < ?`
	whereBeforeLog  = ` AND (timestamp, event_id) < (?, ?)`
	whereSubstring  = ` AND contains(lower(message), lower(?))`
	orderLogsNewest = ` ORDER BY timestamp DESC, event_id DESC LIMIT ?`
	// whereToken matches one word. The substring test is a cheap filter
	// that lets the regular expression run only on likely rows; lower()
	// and RE2's case folding agree on every letter a word is made of in
	// practice.
	whereToken = ` AND contains(lower(message), lower(?)) AND regexp_matches(message, ?)`
)

// wordChar is what tokens are made of: letters, digits and underscore in
// any script. RE2's \b knows only ASCII words, so token patterns spell
// the boundary out with the same classes.
const wordChar = `\pL\pN_`

// Logs lists the records matching f, newest first by (Timestamp, EventID).
func (s *Store) Logs(ctx context.Context, f store.LogFilter) ([]schema.Log, error) {
	if f.Limit <= 0 {
		return nil, fmt.Errorf("search logs: limit must be positive, got %d", f.Limit)
	}
	query, args, err := logsQuery(f)
	if err != nil {
		return nil, fmt.Errorf("search logs: %w", err)
	}
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search logs: %w", err)
	}
	defer rows.Close()
	logs := make([]schema.Log, 0, min(f.Limit, 1024))
	for rows.Next() {
		l, err := scanLog(rows)
		if err != nil {
			return nil, fmt.Errorf("search logs: %w", err)
		}
		logs = append(logs, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search logs: %w", err)
	}
	return logs, nil
}

func logsQuery(f store.LogFilter) (string, []any, error) {
	var q strings.Builder
	q.WriteString(selectLogs)
	args := []any{f.Tenant}
	if f.MinLevel != "" {
		if !f.MinLevel.Valid() {
			return "", nil, fmt.Errorf("unknown level %q", f.MinLevel)
		}
		q.WriteString(whereMinLevel)
		args = append(args, f.MinLevel.Rank())
	}
	for _, c := range []struct{ cond, value string }{
		{whereLogTaskID, f.TaskID}, {whereLogUserID, f.UserID}, {whereLogSource, f.Source},
	} {
		if c.value != "" {
			q.WriteString(c.cond)
			args = append(args, c.value)
		}
	}
	if f.Text != "" {
		var err error
		if args, err = textSQL(&q, args, f.Text, f.TextMode); err != nil {
			return "", nil, err
		}
	}
	args, err := matchersSQL(&q, args, logAttributes, f.Attributes)
	if err != nil {
		return "", nil, err
	}
	if f.Since != 0 {
		q.WriteString(whereLogSince)
		args = append(args, f.Since)
	}
	if f.Until != 0 {
		q.WriteString(whereLogUntil)
		args = append(args, f.Until)
	}
	if c := f.After; c != nil {
		q.WriteString(whereBeforeLog)
		args = append(args, c.Timestamp, c.EventID)
	}
	q.WriteString(orderLogsNewest)
	return q.String(), append(args, f.Limit), nil
}

// textSQL adds the message conditions of a text search. In token mode
// every word of text must appear as a whole word; text with no word in it
// (punctuation only) is matched as a substring, which is what its author
// can have meant.
func textSQL(q *strings.Builder, args []any, text string, mode store.TextMode) ([]any, error) {
	switch mode {
	case "", store.TextTokens:
	case store.TextSubstring:
		q.WriteString(whereSubstring)
		return append(args, text), nil
	default:
		return nil, fmt.Errorf("unknown text mode %q", mode)
	}
	tokens := strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && r != '_'
	})
	if len(tokens) == 0 {
		q.WriteString(whereSubstring)
		return append(args, text), nil
	}
	for _, tok := range tokens {
		q.WriteString(whereToken)
		args = append(args, tok, `(?i)(^|[^`+wordChar+`])`+regexp.QuoteMeta(tok)+`([^`+wordChar+`]|$)`)
	}
	return args, nil
}
