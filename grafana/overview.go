package grafana

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/piechart"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// OverviewUID is the overview dashboard's uid.
const OverviewUID = "taskpulse-overview"

// The task types chosen, as an SQL list.
const taskTypes = "${task_type:singlequote}"

// The overview's queries. Like /v1/stats/overview, a task counts by its
// latest status, starts in the interval of its first event and completes or
// fails in that of its latest; its duration runs from its first running
// event (else its first) to its latest.
var (
	overviewTaskTypes = `SELECT DISTINCT last.2 AS task_type
FROM ` + spans + `
WHERE ` + "updated_at >= " + fromMs + `
ORDER BY task_type`

	overviewByStatus = `SELECT toString(last.1) AS status, count() AS tasks
FROM ` + spans + `
WHERE last.2 IN (` + taskTypes + `) AND updated_at >= ` + fromMs + ` AND created_at <= ` + toMs + `
GROUP BY status
ORDER BY status`

	overviewPerInterval = `SELECT ` + bucket("at") + ` AS time,
    countIf(what = 'started') AS started,
    countIf(what = 'completed') AS completed,
    countIf(what = 'failed') AS failed
FROM
(
    SELECT arrayJoin([('started', created_at), (toString(last.1), updated_at)]) AS event, event.1 AS what, event.2 AS at
    FROM ` + spans + `
    WHERE last.2 IN (` + taskTypes + `)
)
WHERE ` + inRange("at") + `
GROUP BY time
ORDER BY time`

	overviewByType = `SELECT task_type, finished, failed, failed / finished AS failure_rate,
    q[1] AS duration_p50, q[2] AS duration_p90, q[3] AS duration_p99
FROM
(
    SELECT
        last.2 AS task_type,
        count() AS finished,
        countIf(last.1 = 'failed') AS failed,
        quantiles(0.5, 0.9, 0.99)((updated_at - if(started_at > 0, started_at, created_at)) / 1000) AS q
    FROM ` + spans + `
    WHERE last.1 IN ('completed', 'failed', 'cancelled') AND last.2 IN (` + taskTypes + `) AND ` + inRange("updated_at") + `
    GROUP BY task_type
)
ORDER BY task_type`

	// overviewTasks lists the latest tasks updated in the range; %s is an
	// extra condition on the latest status.
	overviewTasks = `SELECT task_id, last.2 AS task_type, toString(last.1) AS status,
    ` + seconds("created_at") + ` AS created, ` + seconds("updated_at") + ` AS updated,
    (updated_at - created_at) / 1000 AS duration
FROM ` + spans + `
WHERE last.2 IN (` + taskTypes + `) AND ` + inRange("updated_at") + `%s
ORDER BY updated_at DESC, task_id
LIMIT 100`

	// overviewErrorLogs counts ERROR and CRITICAL records per interval from
	// the log_times index, each record once at the time of the copy logs
	// keeps (the greatest version), as /v1/stats/overview does.
	overviewErrorLogs = `SELECT ` + bucket("first_ts") + ` AS time, count() AS errors
FROM
(
    SELECT argMax(timestamp, version) AS first_ts
    FROM log_times
    WHERE tenant = ` + tenant + ` AND level_rank >= 4 AND ` + inRange("timestamp") + `
    GROUP BY event_id
)
GROUP BY time
ORDER BY time`
)

func overview() *dashboard.DashboardBuilder {
	return newDashboard(OverviewUID, "TaskPulse overview",
		"Tasks by status, started, completed and failed per interval, failure rate and durations by task type, and the error-log rate.").
		WithVariable(tenantVar()).
		WithVariable(queryVar("task_type", "Task type", overviewTaskTypes).Multi(true).IncludeAll(true)).
		WithPanel(piechart.NewPanelBuilder().
			Title("Tasks by status").
			Description("Tasks active in the range, by their latest status.").
			Datasource(clickhouseRef).
			WithTarget(sql(FormatTable, overviewByStatus)).
			PieType(piechart.PieChartTypeDonut).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Values(true).Calcs([]string{"lastNotNull"})).
			Height(8).Span(8)).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Started, completed and failed").
			Description("Tasks started (first event), completed and failed (latest event) per interval.").
			Datasource(clickhouseRef).
			WithTarget(sql(FormatTimeSeries, overviewPerInterval)).
			DrawStyle(common.GraphDrawStyleBars).
			FillOpacity(60).
			Unit("short").
			Height(8).Span(16)).
		WithPanel(table.NewPanelBuilder().
			Title("Failure rate and duration by task type").
			Description("Tasks that finished in the range (completed, failed or cancelled); durations in seconds from the first running event.").
			Datasource(clickhouseRef).
			WithTarget(sql(FormatTable, overviewByType)).
			OverrideByName("failure_rate", []dashboard.DynamicConfigValue{{Id: "unit", Value: "percentunit"}}).
			OverrideByRegexp("duration_.*", []dashboard.DynamicConfigValue{{Id: "unit", Value: "s"}}).
			Height(8).Span(12)).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Error logs").
			Description("ERROR and CRITICAL log records per interval.").
			Datasource(clickhouseRef).
			WithTarget(sql(FormatTimeSeries, overviewErrorLogs)).
			DrawStyle(common.GraphDrawStyleBars).
			Unit("short").
			Height(8).Span(12)).
		WithPanel(table.NewPanelBuilder().
			Title("Latest tasks").
			Description("The 100 tasks updated last in the range; a task opens its detail.").
			Datasource(clickhouseRef).
			WithTarget(sql(FormatTable, fmt.Sprintf(overviewTasks, ""))).
			OverrideByName("task_id", taskLink()).
			OverrideByName("duration", []dashboard.DynamicConfigValue{{Id: "unit", Value: "s"}}).
			Height(10).Span(12)).
		WithPanel(table.NewPanelBuilder().
			Title("Failed tasks").
			Description("The 100 tasks that failed last in the range; a task opens its detail.").
			Datasource(clickhouseRef).
			WithTarget(sql(FormatTable, fmt.Sprintf(overviewTasks, " AND last.1 = 'failed'"))).
			OverrideByName("task_id", taskLink()).
			OverrideByName("duration", []dashboard.DynamicConfigValue{{Id: "unit", Value: "s"}}).
			Height(10).Span(12))
}
