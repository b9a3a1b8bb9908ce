package grafana_test

import (
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// fitsPanel says whether columns are what a panel of the type plots: the
// ClickHouse plugin makes a time series of a DateTime column and numbers
// (a text column splits them into series), logs of a DateTime and a body,
// and a pie chart of numbers named by a text column.
func fitsPanel(panelType string, columns []driver.ColumnType) error {
	has := func(name string, kind func(string) bool) bool {
		for _, c := range columns {
			if (name == "" || c.Name() == name) && kind(c.DatabaseTypeName()) {
				return true
			}
		}
		return false
	}
	var missing []string
	need := func(ok bool, what string) {
		if !ok {
			missing = append(missing, what)
		}
	}
	switch panelType {
	case "timeseries":
		need(has("time", isDateTime), "a DateTime column named time")
		need(has("", isNumber), "a numeric column")
	case "logs":
		need(has("time", isDateTime), "a DateTime column named time")
		need(has("body", isText), "a text column named body")
	case "piechart":
		need(has("", isText), "a text column naming each slice")
		need(has("", isNumber), "a numeric column")
	case "table":
		need(len(columns) > 0, "a column")
	default:
		return fmt.Errorf("no rule for panels of type %s", panelType)
	}
	if len(missing) > 0 {
		return fmt.Errorf("a %s panel needs %s", panelType, strings.Join(missing, " and "))
	}
	return nil
}

// bare is a type name without Nullable or LowCardinality around it.
func bare(t string) string {
	for _, wrapper := range []string{"Nullable(", "LowCardinality("} {
		if strings.HasPrefix(t, wrapper) {
			t = bare(strings.TrimSuffix(strings.TrimPrefix(t, wrapper), ")"))
		}
	}
	return t
}

func isDateTime(t string) bool { return strings.HasPrefix(bare(t), "DateTime") }
func isText(t string) bool     { b := bare(t); return b == "String" || strings.HasPrefix(b, "Enum") }
func isNumber(t string) bool {
	b := bare(t)
	return strings.HasPrefix(b, "Int") || strings.HasPrefix(b, "UInt") || strings.HasPrefix(b, "Float") || strings.HasPrefix(b, "Decimal")
}
