package grafana

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/logs"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// TaskUID is the task detail dashboard's uid; the overview's tables link
// to it with var-task_id.
const TaskUID = "taskpulse-task"

// The chosen task, as an SQL string.
const taskID = "${task_id:sqlstring}"

// The task detail's queries. A task's events are read with FINAL, which
// keeps the first stored copy of each, and its state is its latest event
// by (timestamp, seq, ingest_order, event_id), as the query API derives it.
var (
	taskIDs = `SELECT task_id
FROM task_spans
WHERE tenant = ` + tenant + `
GROUP BY task_id
HAVING maxMerge(updated) >= ` + fromMs + `
ORDER BY maxMerge(updated) DESC, task_id
LIMIT 1000`

	// taskEvents is the task's deduplicated events with their order key.
	taskEvents = `(
    SELECT *, (timestamp, seq, ingest_order, event_id) AS key
    FROM progress_events FINAL
    PREWHERE tenant = ` + tenant + ` AND task_id = ` + taskID + `
)`

	taskState = `SELECT
    toString(argMax(status, key)) AS status,
    argMaxIf(progress, key, isNotNull(progress)) AS progress,
    argMax(current_step, key) AS current_step,
    argMax(steps_done, key) AS steps_done,
    argMax(steps_total, key) AS steps_total,
    argMax(task_type, key) AS task_type,
    argMax(user_id, key) AS user_id,
    argMax(message, key) AS message,
    argMax(error, key) AS error,
    ` + seconds("min(timestamp)") + ` AS created,
    ` + seconds("max(timestamp)") + ` AS updated,
    count() AS events
FROM ` + taskEvents

	taskProgress = `SELECT ` + seconds("timestamp") + ` AS time, progress
FROM ` + taskEvents + `
WHERE isNotNull(progress)
ORDER BY key`

	taskTimeline = `SELECT ` + seconds("timestamp") + ` AS time, toString(status) AS status, progress, current_step,
    steps_done, steps_total, message, error, seq, event_id
FROM ` + taskEvents + `
ORDER BY key`

	// taskLogs finds the task's records through the log_tasks index and
	// reads them from logs with FINAL, whose winning copy decides.
	taskLogs = `SELECT ` + seconds("timestamp") + ` AS time, toString(level) AS level, message AS body, source, trace_id
FROM logs FINAL
PREWHERE tenant = ` + tenant + ` AND event_id IN
    (SELECT event_id FROM log_tasks WHERE tenant = ` + tenant + ` AND task_id = ` + taskID + `)
WHERE task_id = ` + taskID + `
ORDER BY timestamp DESC, event_id
LIMIT 1000`

	// taskMetrics is the samples sent with the task's id, and the one-minute
	// rollup of the series labelled with its task type, averaged per
	// interval.
	taskMetrics = `SELECT time, series, value
FROM
(
    SELECT ` + bucket("timestamp") + ` AS time, name AS series, avg(value) AS value
    FROM metrics FINAL
    PREWHERE tenant = ` + tenant + `
    WHERE task_id = ` + taskID + ` AND ` + inRange("timestamp") + `
    GROUP BY time, series
    UNION ALL
    SELECT ` + bucket("minute") + ` AS time, concat(name, ' (task type)') AS series, sum(total) / sum(samples) AS value
    FROM metric_rollup FINAL
    PREWHERE tenant = ` + tenant + ` AND ` + inRange("minute") + `
    WHERE label_values[indexOf(label_keys, 'task_type')] =
        (SELECT last.2 FROM (SELECT argMaxMerge(latest) AS last FROM task_spans WHERE tenant = ` + tenant + ` AND task_id = ` + taskID + `))
    GROUP BY time, series
)
ORDER BY time, series`
)

func taskDetail() *dashboard.DashboardBuilder {
	return newDashboard(TaskUID, "TaskPulse task",
		"One task: its current state, progress over time, its event timeline, its logs and its metrics.").
		WithVariable(tenantVar()).
		WithVariable(queryVar("task_id", "Task", taskIDs)).
		WithPanel(table.NewPanelBuilder().
			Title("State").
			Description("The task's latest event; progress is the latest that was reported.").
			Datasource(clickhouseRef).
			WithTarget(sql(FormatTable, taskState)).
			Height(5).Span(24)).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Progress").
			Datasource(clickhouseRef).
			WithTarget(sql(FormatTimeSeries, taskProgress)).
			Unit("percent").Min(0).Max(100).
			LineInterpolation(common.LineInterpolationStepAfter).
			ShowPoints(common.VisibilityModeAlways).
			Height(8).Span(12)).
		WithPanel(timeseries.NewPanelBuilder().
			Title("Metrics").
			Description("Samples sent with this task's id, and the series labelled with its task type.").
			Datasource(clickhouseRef).
			WithTarget(sql(FormatTimeSeries, taskMetrics)).
			Height(8).Span(12)).
		WithPanel(table.NewPanelBuilder().
			Title("Timeline").
			Description("Every event of the task, oldest first.").
			Datasource(clickhouseRef).
			WithTarget(sql(FormatTable, taskTimeline)).
			Height(10).Span(24)).
		WithPanel(logs.NewPanelBuilder().
			Title("Logs").
			Datasource(clickhouseRef).
			WithTarget(sql(FormatLogs, taskLogs)).
			ShowTime(true).
			WrapLogMessage(true).
			EnableLogDetails(true).
			SortOrder(common.LogsSortOrderDescending).
			DedupStrategy(common.LogsDedupStrategyNone).
			Height(12).Span(24))
}
