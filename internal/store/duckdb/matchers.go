package duckdb

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/taskpulse/taskpulse/internal/store"
)

// pairColumns names the parallel key and value arrays a matcher reads:
// attributes of logs, labels of metrics. The names are constants of this
// package, never user input.
type pairColumns struct{ keys, values string }

var (
	logAttributes = pairColumns{"attr_keys", "attr_values"}
	metricLabels  = pairColumns{"label_keys", "label_values"}
)

// value is the SQL for the value under the key bound to the next
// parameter; a missing key reads as "", as matchers define it.
func (c pairColumns) value() string {
	return `coalesce(` + c.values + `[list_position(` + c.keys + `, ?)], '')`
}

// groupKey is the SQL for the list of values under the keys bound to the
// next parameter (a VARCHAR[]), in that order, missing ones "".
func (c pairColumns) groupKey() string {
	return `list_transform(?::VARCHAR[], k -> coalesce(` + c.values + `[list_position(` + c.keys + `, k)], ''))`
}

// matchersSQL appends one condition per matcher to q and their values to
// args. Regular expressions are checked here, with Go's RE2, so that a bad
// one is the caller's error rather than a failed query; DuckDB's
// regexp_full_match is RE2 too and anchors at both ends, as Prometheus
// matchers do.
func matchersSQL(q *strings.Builder, args []any, c pairColumns, ms []store.Matcher) ([]any, error) {
	for _, m := range ms {
		var cond string
		switch m.Op {
		case store.MatchEqual:
			cond = ` AND ` + c.value() + ` = ?`
		case store.MatchNotEqual:
			cond = ` AND ` + c.value() + ` <> ?`
		case store.MatchRegexp, store.MatchNotRegexp:
			if _, err := regexp.Compile("^(?:" + m.Value + ")$"); err != nil {
				return nil, fmt.Errorf("matcher %s%s%q: %w", m.Name, m.Op, m.Value, err)
			}
			cond = ` AND regexp_full_match(` + c.value() + `, ?)`
			if m.Op == store.MatchNotRegexp {
				cond = ` AND NOT regexp_full_match(` + c.value() + `, ?)`
			}
		default:
			return nil, fmt.Errorf("matcher %s: unknown operator %q", m.Name, m.Op)
		}
		q.WriteString(cond)
		args = append(args, m.Name, m.Value)
	}
	return args, nil
}
