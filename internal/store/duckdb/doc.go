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
// writing: the batch is loaded with DuckDB's appender into a staging
// table, copied into progress_events with INSERT OR IGNORE, and the events
// that were really new are folded per task and merged into tasks with an
// upsert that compares order keys. Because only new events are folded and
// every merge keeps the later key, the state is the same for any insertion
// order and any redelivery. Readers use the other pooled connections and
// see each batch whole once InsertProgress returns.
package duckdb
