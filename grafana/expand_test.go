package grafana_test

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A panel's SQL goes through two expansions before ClickHouse sees it, and
// the tests repeat both: Grafana first replaces the dashboard's template
// variables, then the ClickHouse plugin expands its $__ macros against the
// panel's time range and interval.

// values are the variables' chosen values; a multi-value variable may have
// several.
type values map[string][]string

// grafanaVariable matches $name, ${name} and ${name:format}. Names that
// start with __ are Grafana's global variables or the plugin's macros.
var grafanaVariable = regexp.MustCompile(`\$\{(\w+)(?::(\w+))?\}|\$(\w+)`)

// interpolate replaces the template variables of query as Grafana does,
// with the formats the dashboards use.
func interpolate(query string, vars values) (string, error) {
	var errs []string
	out := grafanaVariable.ReplaceAllStringFunc(query, func(m string) string {
		g := grafanaVariable.FindStringSubmatch(m)
		name, format := g[1]+g[3], g[2]
		if strings.HasPrefix(name, "__") {
			return m
		}
		vs, ok := vars[name]
		if !ok {
			errs = append(errs, "no value for variable "+name)
			return m
		}
		quoted := make([]string, len(vs))
		for i, v := range vs {
			switch format {
			case "":
				quoted[i] = v
			case "sqlstring":
				quoted[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
			case "singlequote":
				quoted[i] = "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
			default:
				errs = append(errs, fmt.Sprintf("variable %s: format %q is not one the tests know", name, format))
			}
		}
		if format == "" && len(vs) != 1 {
			errs = append(errs, "variable "+name+" has several values but no format")
		}
		return strings.Join(quoted, ",")
	})
	if len(errs) > 0 {
		return "", fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

// timeRange is a panel's time range and Grafana's interval for it.
type timeRange struct {
	from, to time.Time
	interval time.Duration
}

// pluginMacro matches a macro's name; its arguments, if any, follow in
// balanced parentheses.
var pluginMacro = regexp.MustCompile(`\$__(\w+)`)

// macros are those of grafana-clickhouse-datasource v4 (its
// pkg/macros/macros.go), each given the range and its arguments.
var macros = map[string]func(r timeRange, args []string) (string, error){
	"fromTime":    func(r timeRange, _ []string) (string, error) { return dateTime(r.from), nil },
	"toTime":      func(r timeRange, _ []string) (string, error) { return dateTime(r.to), nil },
	"fromTime_ms": func(r timeRange, _ []string) (string, error) { return dateTime64(r.from), nil },
	"toTime_ms":   func(r timeRange, _ []string) (string, error) { return dateTime64(r.to), nil },
	"timeFilter": oneColumn(func(r timeRange, c string) string {
		return fmt.Sprintf("%s >= %s AND %s <= %s", c, dateTime(r.from), c, dateTime(r.to))
	}),
	"timeFilter_ms": oneColumn(func(r timeRange, c string) string {
		return fmt.Sprintf("%s >= %s AND %s <= %s", c, dateTime64(r.from), c, dateTime64(r.to))
	}),
	"dateFilter": oneColumn(func(r timeRange, c string) string {
		return fmt.Sprintf("%s >= %s AND %s <= %s", c, date(r.from), c, date(r.to))
	}),
	"timeInterval": oneColumn(func(r timeRange, c string) string {
		return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", c, int(math.Max(r.interval.Seconds(), 1)))
	}),
	"interval_s": func(r timeRange, _ []string) (string, error) {
		return fmt.Sprint(int(math.Max(r.interval.Seconds(), 1))), nil
	},
}

func dateTime(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
func dateTime64(t time.Time) string {
	return fmt.Sprintf("fromUnixTimestamp64Milli(%d)", t.UnixMilli())
}
func date(t time.Time) string { return fmt.Sprintf("toDate('%s')", t.UTC().Format(time.DateOnly)) }

func oneColumn(f func(r timeRange, column string) string) func(timeRange, []string) (string, error) {
	return func(r timeRange, args []string) (string, error) {
		if len(args) != 1 {
			return "", fmt.Errorf("expected 1 argument, received %d", len(args))
		}
		return f(r, args[0]), nil
	}
}

// expandMacros expands the plugin's macros in query; any other $__ name
// is an error, since the plugin would send it to ClickHouse unexpanded.
func expandMacros(query string, r timeRange) (string, error) {
	var out strings.Builder
	for {
		loc := pluginMacro.FindStringSubmatchIndex(query)
		if loc == nil {
			out.WriteString(query)
			return out.String(), nil
		}
		name := query[loc[2]:loc[3]]
		f, ok := macros[name]
		if !ok {
			return "", fmt.Errorf("$__%s is not a macro of the ClickHouse plugin", name)
		}
		rest := query[loc[1]:]
		var args []string
		if strings.HasPrefix(rest, "(") {
			inner, after, err := balanced(rest)
			if err != nil {
				return "", fmt.Errorf("$__%s: %w", name, err)
			}
			args, rest = splitArgs(inner), after
		}
		expanded, err := f(r, args)
		if err != nil {
			return "", fmt.Errorf("$__%s: %w", name, err)
		}
		out.WriteString(query[:loc[0]])
		out.WriteString(expanded)
		query = rest
	}
}

// balanced splits s, which starts with "(", into what is inside the
// matching ")" and what follows it.
func balanced(s string) (inner, rest string, err error) {
	depth := 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[1:i], s[i+1:], nil
			}
		}
	}
	return "", "", fmt.Errorf("unbalanced parentheses in %q", s)
}

// splitArgs splits a macro's arguments at the commas outside parentheses.
func splitArgs(s string) []string {
	var (
		args  []string
		depth int
		start int
	)
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				args = append(args, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(args, strings.TrimSpace(s[start:]))
}

// expand is a panel's SQL as ClickHouse receives it.
func expand(query string, vars values, r timeRange) (string, error) {
	q, err := interpolate(query, vars)
	if err != nil {
		return "", err
	}
	return expandMacros(q, r)
}

func TestExpand(t *testing.T) {
	r := timeRange{from: time.Unix(1_700_000_000, 0), to: time.Unix(1_700_086_400, 500_000_000), interval: 90 * time.Second}
	vars := values{"tenant": {"o'neil"}, "types": {"a", "b'c"}, "level": {"3"}}
	f := func(query, want string) {
		t.Helper()
		got, err := expand(query, vars, r)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	f("tenant = ${tenant:sqlstring}", "tenant = 'o''neil'")
	f("t IN (${types:singlequote})", `t IN ('a','b\'c')`)
	f("level >= $level AND x = ${level}", "level >= 3 AND x = 3")
	f("t >= $__fromTime AND t <= $__toTime", "t >= toDateTime(1700000000) AND t <= toDateTime(1700086400)")
	f("$__fromTime_ms", "fromUnixTimestamp64Milli(1700000000000)")
	f("intDiv(ts, $__interval_s * 1000)", "intDiv(ts, 90 * 1000)")
	f("WHERE $__timeFilter(toDateTime(intDiv(ts, 1000))) AND 1",
		"WHERE toDateTime(intDiv(ts, 1000)) >= toDateTime(1700000000) AND toDateTime(intDiv(ts, 1000)) <= toDateTime(1700086400) AND 1")
	f("$__timeInterval(at)", "toStartOfInterval(toDateTime(at), INTERVAL 90 second)")

	bad := func(query, wantErr string) {
		t.Helper()
		_, err := expand(query, vars, r)
		require.ErrorContains(t, err, wantErr)
	}
	bad("$__unknownMacro", "not a macro")
	bad("x = ${missing}", "no value for variable missing")
	bad("x IN ($types)", "several values but no format")
	bad("x = ${tenant:csv}", `format "csv"`)
	bad("$__timeFilter(a, b)", "expected 1 argument")
	bad("$__timeFilter(a", "unbalanced")
}
