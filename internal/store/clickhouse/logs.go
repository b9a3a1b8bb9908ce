package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// logColumns fixes the order in which log rows are inserted and read.
const logColumns = `tenant, event_id, timestamp, ingest_order, task_id, user_id, level, message, source, trace_id, span_id, attr_keys, attr_values`

const insertLogs = `INSERT INTO logs (` + logColumns + `, version)`

// Logs reads newest first in rounds, each a window [lo, hi) of the log
// indexes (schema/clickhouse/0011_log_indexes.sql), since logs itself is
// ordered by identity and cannot narrow a read by time, level or task:
//
//  1. selectLogWindow finds lo, the timestamp of the n-th newest candidate
//     copy below hi (and at or after Since), and how many candidates it saw,
//     at most n. The candidates are the copies of the task's records in
//     log_tasks when a task is named, else the copies of the minimum level
//     or above in log_times.
//  2. selectLogRound reads the candidates of [lo, hi) from logs with FINAL
//     and keeps the records whose winning copy is in the window and matches
//     every filter, newest first.
//
// Every record whose winning copy is in a window has that very copy listed
// in the index in that window, so it is a candidate of that round; a
// candidate whose winning copy lies elsewhere is dropped by the window
// condition after FINAL. The rounds are disjoint and go back in time, so
// their pages join in listing order, and the listing is exactly what one
// FINAL read of the whole tenant would give. It stops when the page is full
// or the index holds nothing older. n starts near the page size and grows
// with the share of candidates that matched (see nextLogRound), so a filter
// the indexes cannot apply (text, attributes, user, source) reaches back as
// far as it must in a few rounds.
//
// The index read costs the window's index rows, and the FINAL read the
// granules of logs holding the candidates: ingest stamps UUIDv7 event ids,
// close to time order, so a window's candidates share few granules.
//
// Ordering logs by time instead would not keep redelivered records apart
// from new ones: the sorting key must hold the identity for FINAL to
// collapse copies, and a copy may carry another timestamp (ingest stamps one
// when the client left it out), so deduplicating a time range with argMax
// or LIMIT BY could not see a copy outside the range that wins over one
// inside it. The indexes cost two small rows per stored copy.
//
// The tenant and the candidates are a PREWHERE, as sorting key columns
// (see stateSelect); every other filter is in the WHERE, which applies
// after FINAL has kept the first copy of each record. The join then
// leaves out the records a task's deletion covers (see delete.go).
const (
	selectLogWindow = `SELECT count(), min(timestamp)
FROM
(
    SELECT timestamp
    FROM %s
    WHERE tenant = ?%s
    ORDER BY timestamp DESC
    LIMIT ?
)`
	selectLogRound = `SELECT ` + logColumns + `
FROM
(
    SELECT ` + logColumns + `
    FROM logs FINAL
    PREWHERE tenant = ? AND event_id IN (SELECT event_id FROM %s WHERE tenant = ?%s)
    WHERE %s
)` + deletedAtJoin + `
WHERE timestamp > task_deleted_at
ORDER BY timestamp DESC, event_id DESC
LIMIT ?`
)

// The candidates of the first round, and the most of any round. A round
// asks for at least the records the page still lacks.
const (
	firstLogRound = 256
	maxLogRound   = 1 << 20
)

// The first span logWindow probes, an hour, and the widest before it
// drops the lower bound, some seven years (both in milliseconds).
const (
	firstProbeSpan = int64(time.Hour / time.Millisecond)
	maxProbeSpan   = firstProbeSpan << 16
)

// logIndex is the index a listing takes its candidates from: the table,
// and the condition beyond tenant and time with its arguments.
type logIndex struct {
	table string
	cond  string
	args  []any
	probe bool // whether logWindow probes spans of time first
}

func logIndexFor(f store.LogFilter) logIndex {
	switch {
	case f.TaskID != "":
		return logIndex{"log_tasks", " AND task_id = ?", []any{f.TaskID}, false}
	case f.MinLevel != "":
		return logIndex{"log_times", " AND level_rank >= ?", []any{f.MinLevel.Rank()}, true}
	}
	return logIndex{table: "log_times", probe: true}
}

// window is a range of timestamps [lo, hi); a bound not set is open.
type window struct {
	lo, hi       int64
	hasLo, hasHi bool
}

// conds appends the window's conditions on timestamp and their arguments.
func (w window) conds(where []string, args []any) ([]string, []any) {
	if w.hasLo {
		where, args = append(where, `timestamp >= ?`), append(args, w.lo)
	}
	if w.hasHi {
		where, args = append(where, `timestamp < ?`), append(args, w.hi)
	}
	return where, args
}

// andConds renders conditions as " AND a AND b".
func andConds(where []string) string {
	if len(where) == 0 {
		return ""
	}
	return " AND " + strings.Join(where, " AND ")
}

// InsertLogs stores logs as one block, all or none. A record whose
// (tenant, event_id) is stored already, or repeated in the batch, keeps its
// first copy (see firstWins and schema/clickhouse/0007_logs.sql). Records
// a task's deletion covers are dropped (see delete.go).
func (s *Store) InsertLogs(ctx context.Context, logs []schema.Log) error {
	if len(logs) == 0 {
		return nil
	}
	for i, l := range logs {
		if l.Tenant == "" || l.EventID == "" || l.Timestamp == 0 || !l.Level.Valid() {
			return fmt.Errorf("insert logs batch: log %d lacks tenant, event_id, timestamp or a valid level", i)
		}
	}
	logTask := func(l *schema.Log) taskKey { return taskKey{l.Tenant, l.TaskID} }
	del, err := deletionsOf(ctx, s, logs, logTask)
	if err != nil {
		return fmt.Errorf("insert logs batch: %w", err)
	}
	if logs = withoutCovered(logs, del, logTask, func(l *schema.Log, o schema.Order) bool { return l.Timestamp <= o.Timestamp }); len(logs) == 0 {
		return nil
	}
	keys, values := attributeColumns(logs, func(l *schema.Log) map[string]string { return l.Attributes })
	err = s.insertColumns(ctx, insertLogs,
		column(logs, func(l *schema.Log) string { return l.Tenant }),
		column(logs, func(l *schema.Log) string { return l.EventID }),
		column(logs, func(l *schema.Log) int64 { return l.Timestamp }),
		column(logs, func(l *schema.Log) int64 { return l.IngestOrder }),
		column(logs, func(l *schema.Log) string { return l.TaskID }),
		column(logs, func(l *schema.Log) string { return l.UserID }),
		column(logs, func(l *schema.Log) string { return string(l.Level) }),
		column(logs, func(l *schema.Log) string { return l.Message }),
		column(logs, func(l *schema.Log) string { return l.Source }),
		column(logs, func(l *schema.Log) string { return l.TraceID }),
		column(logs, func(l *schema.Log) string { return l.SpanID }),
		keys, values, firstWinsColumn(len(logs)),
	)
	if err != nil {
		return fmt.Errorf("insert logs batch: %w", err)
	}
	return nil
}

// Logs lists the records matching f, newest first by (Timestamp, EventID),
// in rounds over the log indexes (see selectLogRound). The filters are
// assembled from fixed fragments; every value is a query argument.
func (s *Store) Logs(ctx context.Context, f store.LogFilter) ([]schema.Log, error) {
	if f.Tenant == "" {
		return nil, errors.New("search logs: tenant is required")
	}
	if f.Limit <= 0 {
		return nil, fmt.Errorf("search logs: limit must be positive, got %d", f.Limit)
	}
	filters, filterArgs, err := logConditions(f)
	if err != nil {
		return nil, fmt.Errorf("search logs: %w", err)
	}
	idx := logIndexFor(f)
	// Candidates are the copies at or after Since and before Until and the
	// cursor; a copy at the cursor's timestamp may still come after it.
	var bounds window
	bounds.lo, bounds.hasLo = f.Since, f.Since != 0
	bounds.hi, bounds.hasHi = f.Until, f.Until != 0
	if c := f.After; c != nil && c.Timestamp < math.MaxInt64 && (!bounds.hasHi || c.Timestamp+1 < bounds.hi) {
		bounds.hi, bounds.hasHi = c.Timestamp+1, true
	}
	var (
		logs       []schema.Log
		candidates uint64 // seen in the rounds so far
		span       = firstProbeSpan
		n          = max(firstLogRound, f.Limit)
	)
	for {
		found, lo, err := s.logWindow(ctx, f.Tenant, idx, bounds, n, &span)
		if err != nil {
			return nil, fmt.Errorf("search logs: %w", err)
		}
		if found == 0 {
			break
		}
		w := window{lo: lo, hasLo: true, hi: bounds.hi, hasHi: bounds.hasHi}
		page, err := s.logRound(ctx, f.Tenant, idx, w, filters, filterArgs, f.Limit-len(logs))
		if err != nil {
			return nil, fmt.Errorf("search logs: %w", err)
		}
		logs = append(logs, page...)
		if len(logs) >= f.Limit || found < uint64(n) {
			break
		}
		bounds.hi, bounds.hasHi = lo, true
		candidates += found
		n = nextLogRound(n, candidates, len(logs), f.Limit-len(logs))
	}
	return logs, nil
}

// nextLogRound sizes the next round from the share of candidates that
// matched so far, asking for a quarter more than that share predicts, and
// for eight times the last round while nothing matched.
func nextLogRound(last int, candidates uint64, matched, need int) int {
	next := 8 * last
	if matched > 0 {
		next = int(min(uint64(need)*candidates/uint64(matched)*5/4, maxLogRound))
	}
	return min(max(next, firstLogRound, need), maxLogRound)
}

// logWindow runs step 1 of a round: how many of the n newest candidates in
// bounds there are, and the timestamp of the oldest of them.
//
// Finding the n newest among every row of the tenant sorts the index's
// timestamps below hi, some 150 ms at five million records on 18.16, so
// log_times is first probed in a span ending at hi (at the store's clock
// when the listing has no upper bound), which the primary key narrows: a
// probe holding n candidates settles it, and one holding fewer is widened
// sixteenfold, up to no lower bound at all. The span that sufficed is kept
// for the next round. log_tasks needs no probes: its primary key narrows a
// read to one task.
func (s *Store) logWindow(ctx context.Context, tenant string, idx logIndex, bounds window, n int, span *int64) (uint64, int64, error) {
	top := bounds.hi
	if !bounds.hasHi {
		top = time.Now().UnixMilli()
	}
	for {
		probe := bounds
		bounded := idx.probe && *span <= maxProbeSpan && top-*span < top && (!bounds.hasLo || top-*span > bounds.lo)
		if bounded {
			probe.lo, probe.hasLo = top-*span, true
		}
		conds, args := probe.conds(nil, append([]any{tenant}, idx.args...))
		var (
			found uint64
			lo    int64
		)
		query := fmt.Sprintf(selectLogWindow, idx.table, idx.cond+andConds(conds))
		if err := s.conn.QueryRow(ctx, query, append(args, n)...).Scan(&found, &lo); err != nil {
			return 0, 0, err
		}
		if found >= uint64(n) || !bounded {
			return found, lo, nil
		}
		*span *= 16
	}
}

// logRound runs step 2 of a round: the records of the candidates in w that
// match the filters, newest first, at most limit.
func (s *Store) logRound(ctx context.Context, tenant string, idx logIndex, w window, filters []string, filterArgs []any, limit int) ([]schema.Log, error) {
	inner, innerArgs := w.conds(nil, append([]any{tenant, tenant}, idx.args...))
	outer, outerArgs := w.conds(nil, nil)
	outer = append(outer, filters...)
	args := append(append(innerArgs, outerArgs...), filterArgs...)
	query := fmt.Sprintf(selectLogRound, idx.table, idx.cond+andConds(inner), strings.Join(outer, " AND "))
	return collect(ctx, s.conn, scanLog, query, append(args, groupSet([]string{tenant}), limit)...)
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
