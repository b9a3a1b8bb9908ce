package clickhouse

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
// parameter. indexOf gives 0 for a missing key, and element 0 of an array
// is the default of its type, "", which is what a missing label is to a
// matcher.
func (c pairColumns) value() string {
	return c.values + `[indexOf(` + c.keys + `, ?)]`
}

// groupKey is the SQL for the values under the keys names, in that order,
// as an Array(String), and its arguments. Array elements are written out
// one by one because 18.16 does not let a lambda read a column.
func (c pairColumns) groupKey(names []string) (string, []any) {
	if len(names) == 0 {
		return `emptyArrayString()`, nil
	}
	elems := make([]string, len(names))
	args := make([]any, len(names))
	for i, n := range names {
		elems[i], args[i] = c.value(), n
	}
	return "[" + strings.Join(elems, ", ") + "]", args
}

// matcherConditions returns one condition per matcher and their arguments.
// A regular expression is checked here with Go's RE2, so that a bad one is
// the caller's error rather than a failed query, and anchored at both ends
// as Prometheus does. ClickHouse's match is RE2 too but lets "." match a
// newline, which (?-s) turns off, as Go has it. On 18.16 an expression with
// (?i) and a literal part matches with case (see messageHasToken); current
// servers ignore case as asked.
func matcherConditions(c pairColumns, ms []store.Matcher) ([]string, []any, error) {
	var (
		conds []string
		args  []any
	)
	for _, m := range ms {
		value := m.Value
		var cond string
		switch m.Op {
		case store.MatchEqual:
			cond = c.value() + ` = ?`
		case store.MatchNotEqual:
			cond = c.value() + ` != ?`
		case store.MatchRegexp, store.MatchNotRegexp:
			value = `(?-s)^(?:` + m.Value + `)$`
			if _, err := regexp.Compile(value); err != nil {
				return nil, nil, fmt.Errorf("matcher %s%s%q: %w", m.Name, m.Op, m.Value, err)
			}
			cond = `match(` + c.value() + `, ?)`
			if m.Op == store.MatchNotRegexp {
				cond = `NOT ` + cond
			}
		default:
			return nil, nil, fmt.Errorf("matcher %s: unknown operator %q", m.Name, m.Op)
		}
		conds = append(conds, cond)
		args = append(args, m.Name, value)
	}
	return conds, args, nil
}
