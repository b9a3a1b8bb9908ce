package grafana

// TaskPulse keeps times as unix milliseconds in Int64 columns, since 18.16
// has no DateTime64. The plugin's $__fromTime and $__toTime are DateTimes
// of the range in whole seconds, so a range is compared in milliseconds,
// the end taking its whole second, and a bucket is $__interval_s seconds
// (Grafana's interval, at least a second) as a DateTime for the time axis.
const (
	fromMs = "toInt64(toUInt32($__fromTime)) * 1000"
	toMs   = "toInt64(toUInt32($__toTime)) * 1000 + 999"
)

// inRange keeps the rows whose unix-ms column is in the dashboard's range.
func inRange(col string) string { return col + " >= " + fromMs + " AND " + col + " <= " + toMs }

// bucket is the start of the interval holding a unix-ms column.
func bucket(col string) string {
	return "toDateTime(intDiv(" + col + ", $__interval_s * 1000) * $__interval_s)"
}

// seconds is a unix-ms column as a DateTime.
func seconds(col string) string { return "toDateTime(intDiv(" + col + ", 1000))" }

// The tenant every ClickHouse dashboard is confined to, as an SQL string.
const tenant = "${tenant:sqlstring}"

// spans is each task of the tenant with its latest (status, type), and its
// first, first running and latest event times, from task_spans. Its
// aggregates take every stored copy of an event and are idempotent, so a
// redelivered event changes nothing and a task counts once
// (schema/clickhouse/0012_task_spans.sql). Where a retried request was
// stamped again, its copies disagree and a span may reach the later copy's
// time; /v1/stats/overview recomputes those tasks from their events, a
// dashboard shows the span as it is.
const spans = `(
    SELECT
        task_id,
        argMaxMerge(latest) AS last,
        minMerge(created) AS created_at,
        minIfMerge(started) AS started_at,
        maxMerge(updated) AS updated_at
    FROM task_spans
    WHERE tenant = ` + tenant + `
    GROUP BY task_id
)`
