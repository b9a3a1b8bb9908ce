package grafana

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/logs"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// LogsUID is the logs dashboard's uid.
const LogsUID = "taskpulse-logs"

// The logs dashboard's queries. The log_times index finds the records of
// the range from the minimum level up, and logs with FINAL holds their
// winning copies, to which the other filters apply (as /v1/logs reads
// them). The text filter matches anywhere, ignoring case; the attribute
// filter is one name=value pair; either empty matches every record.
var (
	logSources = `SELECT DISTINCT source FROM logs WHERE tenant = ` + tenant + ` ORDER BY source`

	// logsMatching is the matching records as a subquery, so that the
	// selects above it may name a column "level" for Grafana without that
	// alias replacing the column in the filter.
	logsMatching = `FROM
(
    SELECT timestamp, event_id, level, message, source, task_id, trace_id, attr_keys, attr_values
    FROM logs FINAL
    PREWHERE tenant = ` + tenant + ` AND event_id IN
        (SELECT event_id FROM log_times WHERE tenant = ` + tenant + ` AND level_rank >= ${level} AND ` + inRange("timestamp") + `)
    WHERE ` + inRange("timestamp") + ` AND toInt8(level) >= ${level}
        AND source IN (${source:singlequote})
        AND (${text:sqlstring} = '' OR positionCaseInsensitiveUTF8(message, ${text:sqlstring}) > 0)
        AND (${attr:sqlstring} = '' OR has(arrayMap((k, v) -> concat(k, '=', v), attr_keys, attr_values), ${attr:sqlstring}))
)`

	logsRate = `SELECT ` + bucket("timestamp") + ` AS time, toString(level) AS level, count() AS lines
` + logsMatching + `
GROUP BY time, level
ORDER BY time, level`

	logsNewest = `SELECT ` + seconds("timestamp") + ` AS time, toString(level) AS level, message AS body, source, task_id, trace_id,
    arrayStringConcat(arrayMap((k, v) -> concat(k, '=', v), attr_keys, attr_values), ' ') AS attributes
` + logsMatching + `
ORDER BY timestamp DESC, event_id
LIMIT 500`
)

// levelOptions are the levels as their ranks, so the variable is a
// minimum level.
const levelOptions = "DEBUG : 1,INFO : 2,WARNING : 3,ERROR : 4,CRITICAL : 5"

func logsDashboard() *dashboard.DashboardBuilder {
	info := dashboard.VariableOption{Text: text("INFO"), Value: text("2")}
	return newDashboard(LogsUID, "TaskPulse logs",
		"Log records by minimum level, source, text and attribute: the rate by level and the newest matching lines.").
		WithVariable(tenantVar()).
		WithVariable(dashboard.NewCustomVariableBuilder("level").
			Label("Minimum level").
			Values(dashboard.StringOrMap{String: ptr(levelOptions)}).
			Current(info)).
		WithVariable(queryVar("source", "Source", logSources).Multi(true).IncludeAll(true)).
		WithVariable(dashboard.NewTextBoxVariableBuilder("text").Label("Text")).
		WithVariable(dashboard.NewTextBoxVariableBuilder("attr").Label("Attribute (name=value)")).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Log rate by level").
			Description("Matching records per interval.").
			Datasource(clickhouseRef).
			WithTarget(sql(FormatTimeSeries, logsRate)).
			DrawStyle(common.GraphDrawStyleBars).
			Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).
			FillOpacity(70).
			Unit("short").
			Height(8).Span(24)).
		WithPanel(logs.NewPanelBuilder().
			Title("Newest lines").
			Description("The 500 newest matching records.").
			Datasource(clickhouseRef).
			WithTarget(sql(FormatLogs, logsNewest)).
			ShowTime(true).
			WrapLogMessage(true).
			EnableLogDetails(true).
			SortOrder(common.LogsSortOrderDescending).
			DedupStrategy(common.LogsDedupStrategyNone).
			Height(16).Span(24))
}

func ptr[T any](v T) *T { return &v }

func text(s string) dashboard.StringOrArrayOfString {
	return dashboard.StringOrArrayOfString{String: &s}
}
