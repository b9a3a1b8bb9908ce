package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

var _ store.LogStore = (*Store)(nil)

// logColumns fixes the order in which log rows are inserted and read.
const logColumns = `tenant, event_id, timestamp, ingest_order, task_id, user_id, level, message, source, trace_id, span_id, attr_keys, attr_values`

const insertLogs = `INSERT INTO logs (` + logColumns + `, version)`

// selectLogs reads a tenant's records newest first. The tenant is a
// PREWHERE, as a sorting key column (see stateSelect); every other filter
// is in the WHERE that %s adds, which applies after FINAL has kept the first
// copy of each record.
const selectLogs = `SELECT ` + logColumns + `
FROM logs FINAL
PREWHERE tenant = ?%s
ORDER BY timestamp DESC, event_id DESC
LIMIT ?`

// InsertLogs stores logs as one block, all or none. A record whose
// (tenant, event_id) is stored already, or repeated in the batch, keeps its
// first copy (see firstWins and schema/clickhouse/0007_logs.sql).
func (s *Store) InsertLogs(ctx context.Context, logs []schema.Log) error {
	if len(logs) == 0 {
		return nil
	}
	for i, l := range logs {
		if l.Tenant == "" || l.EventID == "" || l.Timestamp == 0 || !l.Level.Valid() {
			return fmt.Errorf("insert logs batch: log %d lacks tenant, event_id, timestamp or a valid level", i)
		}
	}
	first := firstWins()
	err := s.insertRows(ctx, insertLogs, len(logs), func(i int) []any {
		l := &logs[i]
		keys, values := splitAttributes(l.Attributes)
		return []any{l.Tenant, l.EventID, l.Timestamp, l.IngestOrder, l.TaskID, l.UserID, string(l.Level),
			l.Message, l.Source, l.TraceID, l.SpanID, keys, values, first - uint64(i)}
	})
	if err != nil {
		return fmt.Errorf("insert logs batch: %w", err)
	}
	return nil
}

// Logs lists the records matching f, newest first by (Timestamp, EventID).
// The filters are assembled from fixed fragments; every value is a query
// argument.
func (s *Store) Logs(ctx context.Context, f store.LogFilter) ([]schema.Log, error) {
	if f.Tenant == "" {
		return nil, errors.New("search logs: tenant is required")
	}
	if f.Limit <= 0 {
		return nil, fmt.Errorf("search logs: limit must be positive, got %d", f.Limit)
	}
	where, args, err := logConditions(f)
	if err != nil {
		return nil, fmt.Errorf("search logs: %w", err)
	}
	args = append(append([]any{f.Tenant}, args...), f.Limit)
	logs, err := collect(ctx, s.conn, scanLog, fmt.Sprintf(selectLogs, whereClause(where)), args...)
	if err != nil {
		return nil, fmt.Errorf("search logs: %w", err)
	}
	return logs, nil
}

// scanLog reads a row selected with logColumns.
func scanLog(r driver.Rows) (schema.Log, error) {
	var (
		l            schema.Log
		level        string
		keys, values []string
	)
	err := r.Scan(&l.Tenant, &l.EventID, &l.Timestamp, &l.IngestOrder, &l.TaskID, &l.UserID, &level,
		&l.Message, &l.Source, &l.TraceID, &l.SpanID, &keys, &values)
	l.Level = schema.Level(level)
	l.Attributes = joinAttributes(keys, values)
	return l, err
}

// logConditions returns the conditions of every filter of f in use, and
// their arguments.
func logConditions(f store.LogFilter) ([]string, []any, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, vs ...any) {
		where = append(where, cond)
		args = append(args, vs...)
	}
	if f.MinLevel != "" {
		if !f.MinLevel.Valid() {
			return nil, nil, fmt.Errorf("unknown level %q", f.MinLevel)
		}
		// The level's Enum8 values are the ranks.
		add(`toInt8(level) >= ?`, f.MinLevel.Rank())
	}
	for _, c := range []struct{ column, value string }{{"task_id", f.TaskID}, {"user_id", f.UserID}, {"source", f.Source}} {
		if c.value != "" {
			add(c.column+` = ?`, c.value)
		}
	}
	if f.Text != "" {
		cond, values, err := textCondition(f.Text, f.TextMode)
		if err != nil {
			return nil, nil, err
		}
		for _, v := range values {
			add(cond, v)
		}
	}
	conds, margs, err := matcherConditions(logAttributes, f.Attributes)
	if err != nil {
		return nil, nil, err
	}
	where, args = append(where, conds...), append(args, margs...)
	if f.Since != 0 {
		add(`timestamp >= ?`, f.Since)
	}
	if f.Until != 0 {
		add(`timestamp < ?`, f.Until)
	}
	if c := f.After; c != nil {
		add(`(timestamp, event_id) < (?, ?)`, c.Timestamp, c.EventID)
	}
	return where, args, nil
}

// wordChar is what tokens are made of: letters, digits and underscore in
// any script. RE2's \b knows only ASCII words, so token patterns spell the
// boundary out with the same classes.
const wordChar = `\pL\pN_`

// Message conditions of a text search, each taking one argument.
const (
	messageContains = `positionCaseInsensitiveUTF8(message, ?) > 0`
	// messageHasToken matches a lower-cased message against a lower-cased
	// token pattern. (?i) would do on current servers, but 18.16 looks for
	// a pattern's literal part before running RE2, and does so with case,
	// whatever (?i) says: there '(?i)DISK' does not match "Disk".
	messageHasToken = `match(lowerUTF8(message), ?)`
)

// textCondition returns the message condition of a text search and the
// values it must hold for, each once. In token mode every word of text
// must appear as a whole word; text with no word in it (punctuation only)
// is matched as a substring, which is what its author can have meant.
func textCondition(text string, mode store.TextMode) (string, []string, error) {
	switch mode {
	case "", store.TextTokens:
	case store.TextSubstring:
		return messageContains, []string{text}, nil
	default:
		return "", nil, fmt.Errorf("unknown text mode %q", mode)
	}
	tokens := strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && r != '_'
	})
	if len(tokens) == 0 {
		return messageContains, []string{text}, nil
	}
	patterns := make([]string, len(tokens))
	for i, tok := range tokens {
		patterns[i] = `(^|[^` + wordChar + `])` + regexp.QuoteMeta(strings.ToLower(tok)) + `([^` + wordChar + `]|$)`
	}
	return messageHasToken, patterns, nil
}
