// Package clickhouse keeps TaskPulse's signals in ClickHouse, for the
// distributed deployment. It implements store.Store over the native
// protocol with clickhouse-go.
//
// Open connects, creates the database when it is missing and applies the
// migrations embedded in schema.ClickHouseMigrations. The writer inserts
// batches with InsertProgress; the query, stream and alerting services read
// through the same Store.
//
// Every statement is written for ClickHouse 18.16 as well as current
// releases (see DESIGN §6): the base schema uses only the MergeTree family,
// Enum8, Array and Nullable, and features of newer servers come as tuning
// migrations applied only where the server supports them.
//
// Redelivered events are never counted twice: the events table is a
// ReplacingMergeTree keyed by each event's identity and every read uses
// FINAL (see schema/clickhouse/0001_progress_events.sql). The current state
// of a task is computed at read time from its deduplicated events (see
// state.go), which keeps it exact whatever order events arrived in. A task
// listing first narrows to a page with task_summary, a per-task summary a
// materialized view keeps with every insert
// (schema/clickhouse/0006_task_summary.sql), and then computes the state of
// that page only.
package clickhouse
