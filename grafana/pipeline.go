package grafana

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// PipelineUID is the pipeline health dashboard's uid.
const PipelineUID = "taskpulse-pipeline"

// promPanel is a time series panel of the pipeline dashboard: its PromQL
// expressions, each with a legend, over TaskPulse's own metrics.
type promPanel struct {
	title, description, unit string
	exprs                    []promExpr
}

type promExpr struct{ expr, legend string }

// pipelinePanels are what the pipeline dashboard shows. Counters that
// only appear once something happened (dead letters, drops, deliveries)
// fall back to 0, so a quiet pipeline reads 0 rather than no data.
var pipelinePanels = []promPanel{
	{"Ingest rate", "Events accepted per second, by signal.", "ops", []promExpr{
		{`sum by (signal) (rate(taskpulse_ingest_events_total{outcome="accepted"}[$__rate_interval]))`, "{{signal}}"},
	}},
	{"Ingest rejections", "Events refused per second, by reason: invalid, bus unavailable, over a rate limit; and requests refused by a limit or for a wrong key.", "ops", []promExpr{
		{`sum by (outcome) (rate(taskpulse_ingest_events_total{outcome!="accepted"}[$__rate_interval]))`, "events {{outcome}}"},
		{`sum by (limit) (rate(taskpulse_ratelimit_rejected_total[$__rate_interval]))`, "requests over {{limit}} limit"},
		{`sum(rate(taskpulse_auth_failures_total[$__rate_interval]))`, "wrong keys"},
	}},
	{"HTTP errors", "Answers with a 4xx or 5xx code per second, by route and code.", "reqps", []promExpr{
		{`sum by (route, code) (rate(taskpulse_http_requests_total{code=~"[45].."}[$__rate_interval]))`, "{{code}} {{route}}"},
	}},
	{"HTTP latency p99", "99th percentile of request duration, by route.", "s", []promExpr{
		{`histogram_quantile(0.99, sum by (route, le) (rate(taskpulse_http_request_duration_seconds_bucket[$__rate_interval])))`, "{{route}}"},
	}},
	{"Bus lag", "Bytes of the embedded bus each writer group has not stored yet.", "bytes", []promExpr{
		{`max by (instance, group) (taskpulse_bus_lag_bytes)`, "{{group}} {{instance}}"},
	}},
	{"Kafka lag", "Records of the Kafka bus each writer group has not committed yet. Every process on the bus reports it; the panel shows one value per group.", "short", []promExpr{
		{`max by (group) (taskpulse_bus_lag_records)`, "{{group}}"},
	}},
	{"Writer records", "Records the writers stored or sent to the dead-letter topic per second, by topic.", "ops", []promExpr{
		{`sum by (topic, outcome) (rate(taskpulse_writer_records_total[$__rate_interval]))`, "{{topic}} {{outcome}}"},
	}},
	{"Writer batch size", "Records per store insert: median and 99th percentile.", "short", []promExpr{
		{`histogram_quantile(0.5, sum by (le) (rate(taskpulse_writer_batch_size_bucket[$__rate_interval])))`, "p50"},
		{`histogram_quantile(0.99, sum by (le) (rate(taskpulse_writer_batch_size_bucket[$__rate_interval])))`, "p99"},
	}},
	{"Writer failures and dead letters", "Store inserts that failed and were retried, and records sent to the dead-letter topic, in each interval.", "short", []promExpr{
		{`sum(increase(taskpulse_writer_insert_failures_total[$__rate_interval]))`, "insert failures"},
		{`sum(increase(taskpulse_writer_records_total{outcome="deadletter"}[$__rate_interval])) or vector(0)`, "dead-letter records"},
	}},
	{"WebSocket connections", "Open connections and subscriptions, by process.", "short", []promExpr{
		{`sum by (instance) (taskpulse_stream_connections)`, "connections {{instance}}"},
		{`sum by (instance) (taskpulse_stream_subscriptions)`, "subscriptions {{instance}}"},
	}},
	{"WebSocket drops", "Messages not sent per second, by reason.", "ops", []promExpr{
		{`sum by (reason) (rate(taskpulse_stream_messages_dropped_total[$__rate_interval])) or vector(0)`, "{{reason}}"},
	}},
	{"Alert deliveries", "Notification delivery attempts per second, by channel and outcome (sent, failed, given up).", "ops", []promExpr{
		{`sum by (channel, outcome) (rate(taskpulse_alerting_delivery_attempts_total[$__rate_interval])) or vector(0)`, "{{channel}} {{outcome}}"},
	}},
	{"Alerts by state", "Alerts known to the alerting processes, by state.", "short", []promExpr{
		{`sum by (state) (taskpulse_alerting_alerts)`, "{{state}}"},
	}},
}

func pipeline() *dashboard.DashboardBuilder {
	d := newDashboard(PipelineUID, "TaskPulse pipeline health",
		"TaskPulse's own metrics, scraped by Prometheus from every process: ingest, bus, writer, WebSocket stream and alert delivery.")
	for _, p := range pipelinePanels {
		panel := timeseries.NewPanelBuilder().
			Title(p.title).
			Description(p.description).
			Datasource(prometheusRef).
			Unit(p.unit).
			Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom)).
			Height(8).Span(12)
		for i, e := range p.exprs {
			panel.WithTarget(prometheus.NewDataqueryBuilder().
				RefId(string(rune('A' + i))).
				Datasource(prometheusRef).
				Expr(e.expr).
				LegendFormat(e.legend).
				Range())
		}
		d.WithPanel(panel)
	}
	return d
}
