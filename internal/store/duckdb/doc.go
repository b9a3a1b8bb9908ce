// Package duckdb is the embedded store: TaskPulse's signals in one local
// DuckDB file, for the all-in-one deployment, development and CI.
//
// Open creates the file if needed and applies the migrations embedded in
// package schema that the file has not recorded yet. Progress events go to
// the progress_events table, whose primary key (tenant, event_id) makes a
// redelivered event a no-op. The tasks table keeps each task's current
// state, so that listing tasks never has to fold events at read time.
//
// InsertProgress runs one transaction on a connection reserved for
// writing: the batch is appended with DuckDB's appender straight into
// progress_events, and its events are folded per task and merged into
// tasks with an upsert that compares order keys. When the primary key
// refuses the append because the batch holds a stored event (a
// redelivery or a retried request), the transaction is rolled back and
// the batch is loaded into a staging table instead, copied into
// progress_events with INSERT OR IGNORE, and only the events that were
// really new are folded. Because only new events are folded and
// every merge keeps the later key, the state is the same for any insertion
// order and any redelivery. Readers use the other pooled connections and
// see each batch whole once InsertProgress returns.
//
// Logs and metric samples are never updated, and their tables have no
// primary key, whose index every append would maintain: an insert looks
// its batch's event ids up in one join that reads only the row groups
// whose id_time (the millisecond of a UUIDv7 id) range meets the batch's,
// then appends the records that were not there (eventids.go). Inserts are
// serialised on the writer connection, so nothing is stored between the
// look-up and the append. InsertMetrics also folds the samples it really
// inserted into metric_rollup, one row per series and minute, merging with
// the stored row in the same transaction, so that a redelivered batch
// reaches neither table twice. MetricSeries reads whole minutes from the
// rollup when its buckets are whole minutes starting on one, and
// everything else from the raw samples; both give the same sums, counts,
// minimums, maximums and last values, and quantiles within 1/63 of a
// bucket's range (sketch.go).
//
// Stats reads the tasks table, which already holds each task's current
// state, and the logs. Dashboards are rows of their own table, written
// under a condition on their version (dashboards.go).
package duckdb
