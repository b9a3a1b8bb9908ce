// Package grafana holds TaskPulse's Grafana dashboards as code.
//
// Each dashboard is built in Go with the Grafana Foundation SDK from the
// SQL and PromQL beside it, and `go run ./grafana/gen` writes the JSON that
// Grafana provisions from grafana/dashboards. The ClickHouse panels read
// the tables of schema/clickhouse the way the store does: progress events,
// logs and samples with FINAL, or through the indexes and aggregate tables
// whose functions absorb a redelivered copy (task_spans, log_times,
// log_tasks, metric_minutes, metric_rollup), so a retried event counts
// once. Every query uses only SQL that ClickHouse 18.16 already has and the
// macros of the grafana-clickhouse-datasource plugin; the pipeline
// dashboard queries Prometheus, which scrapes every TaskPulse process.
//
// The tests hold the committed JSON to the generator's output, run every
// panel's SQL on ClickHouse with the macros expanded and the variables set
// from a generated data set, and check the PromQL with promtool against a
// real /metrics capture.
package grafana
