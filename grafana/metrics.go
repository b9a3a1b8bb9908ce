package grafana

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// MetricsUID is the metrics dashboard's uid.
const MetricsUID = "taskpulse-metrics"

// The metrics dashboard reads the one-minute rollup, whose rows are exact
// however often a batch was stored (schema/clickhouse/0008_metrics.sql):
// its panels' interval is at least a minute, and Grafana's intervals from
// a minute up are whole minutes, so every bucket is whole rollup minutes.
// Each panel is one of /v1/metrics/series's aggregations, per value of the
// chosen label; the quantiles come from the minutes' sketches, within
// 1/128 of a bucket's range, and the rate, as the API computes it, is the
// increase of the last value per second since the bucket before.
var (
	metricNames = `SELECT DISTINCT name FROM metric_minutes WHERE tenant = ` + tenant + ` ORDER BY name`

	metricLabels = `SELECT DISTINCT arrayJoin(label_keys) AS label
FROM metric_rollup
WHERE tenant = ` + tenant + ` AND name = ${metric:sqlstring}
ORDER BY label`

	metricLabelValues = `SELECT DISTINCT ` + labelValue + ` AS value
FROM metric_rollup
WHERE tenant = ` + tenant + ` AND name = ${metric:sqlstring}
ORDER BY value`

	// The chosen label's value in a row, '' where the series lacks it.
	labelValue = `label_values[indexOf(label_keys, ${label:sqlstring})]`

	rollupRows = `FROM metric_rollup FINAL
PREWHERE tenant = ` + tenant + ` AND name = ${metric:sqlstring} AND ` + inRange("minute") + `
WHERE ` + labelValue + ` IN (${label_value:singlequote})`

	rollupHead = `SELECT ` + bucket("minute") + ` AS time, ` + labelValue + ` AS series, `

	metricAvg    = rollupHead + `sum(total) / sum(samples) AS avg` + "\n" + rollupRows + "\nGROUP BY time, series\nORDER BY time, series"
	metricMinMax = rollupHead + `min(low) AS min, max(high) AS max` + "\n" + rollupRows + "\nGROUP BY time, series\nORDER BY time, series"
	metricSum    = rollupHead + `sum(total) AS sum, sum(samples) AS count` + "\n" + rollupRows + "\nGROUP BY time, series\nORDER BY time, series"
	metricLast   = rollupHead + `argMax(last_value, (last_ts, last_order, last_event_id)) AS last` + "\n" + rollupRows + "\nGROUP BY time, series\nORDER BY time, series"

	// metricQuantiles weighs each sketch bin's centre by its samples.
	metricQuantiles = `SELECT time, series, q[1] AS p50, q[2] AS p90, q[3] AS p95, q[4] AS p99
FROM
(
    SELECT ` + bucket("minute") + ` AS time, ` + labelValue + ` AS series,
        quantilesExactWeighted(0.5, 0.9, 0.95, 0.99)(low + (bin + 0.5) * (high - low) / 64, weight) AS q
    FROM metric_rollup FINAL
    ARRAY JOIN bins AS bin, counts AS weight
    PREWHERE tenant = ` + tenant + ` AND name = ${metric:sqlstring} AND ` + inRange("minute") + `
    WHERE ` + labelValue + ` IN (${label_value:singlequote})
    GROUP BY time, series
)
ORDER BY time, series`

	// metricRate takes each series' last value per bucket, in time order,
	// and divides each increase by the seconds since the bucket before; a
	// value below the one before means the counter restarted from zero.
	metricRate = `SELECT toDateTime(point.1) AS time, series, point.2 AS rate
FROM
(
    SELECT series, arraySort(p -> p.1, groupArray((t, v))) AS points
    FROM
    (
        SELECT intDiv(minute, $__interval_s * 1000) * $__interval_s AS t, ` + labelValue + ` AS series,
            argMax(last_value, (last_ts, last_order, last_event_id)) AS v
        ` + rollupRows + `
        GROUP BY t, series
    )
    GROUP BY series
)
ARRAY JOIN arrayMap(i -> (points[i].1,
    if(points[i].2 >= points[i - 1].2, points[i].2 - points[i - 1].2, points[i].2) / (points[i].1 - points[i - 1].1)),
    arrayFilter(i -> i > 1, arrayEnumerate(points))) AS point
ORDER BY time, series`

	// metricSamples reads the newest raw samples through metric_minutes,
	// whose minutes hold every candidate, from metrics with FINAL.
	metricSamples = `SELECT ` + seconds("timestamp") + ` AS time, name, value, toString(kind) AS kind, unit,
    arrayStringConcat(arrayMap((k, v) -> concat(k, '=', v), label_keys, label_values), ' ') AS labels, task_id
FROM metrics FINAL
PREWHERE tenant = ` + tenant + ` AND event_id IN
    (SELECT event_id FROM metric_minutes WHERE tenant = ` + tenant + ` AND name = ${metric:sqlstring}
        AND minute >= ` + fromMs + ` - 60000 AND minute <= ` + toMs + `)
WHERE name = ${metric:sqlstring} AND ` + inRange("timestamp") + ` AND ` + labelValue + ` IN (${label_value:singlequote})
ORDER BY timestamp DESC, event_id
LIMIT 200`
)

func metricsDashboard() *dashboard.DashboardBuilder {
	d := newDashboard(MetricsUID, "TaskPulse metrics",
		"One metric per value of a label: average, minimum and maximum, sum and count, last value, rate and quantiles from the one-minute rollup, and the newest raw samples.").
		WithVariable(tenantVar()).
		WithVariable(queryVar("metric", "Metric", metricNames)).
		WithVariable(queryVar("label", "Label", metricLabels)).
		WithVariable(queryVar("label_value", "Value", metricLabelValues).Multi(true).IncludeAll(true))
	for _, p := range []struct{ title, query string }{
		{"Average", metricAvg},
		{"Minimum and maximum", metricMinMax},
		{"Sum and count", metricSum},
		{"Last value", metricLast},
		{"Rate per second", metricRate},
		{"Quantiles p50, p90, p95, p99", metricQuantiles},
	} {
		d.WithPanel(timeseries.NewPanelBuilder().
			Title(p.title).
			Datasource(clickhouseRef).
			WithTarget(sql(FormatTimeSeries, p.query)).
			Interval("1m").
			Height(8).Span(12))
	}
	return d.WithPanel(table.NewPanelBuilder().
		Title("Newest samples").
		Datasource(clickhouseRef).
		WithTarget(sql(FormatTable, metricSamples)).
		Height(10).Span(24))
}
