// Package clickhouse keeps TaskPulse's signals in ClickHouse, for the
// distributed deployment. It implements store.Store, the whole contract,
// over the native protocol with clickhouse-go.
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
// tasks.go), which keeps it exact whatever order events arrived in. A task
// listing first narrows to a page with task_updates, rows a materialized
// view adds with every insert and sorts by each task's latest update
// (schema/clickhouse/0013_task_updates.sql), reading only a recent window
// of them and widening it while the page is short, and then computes the
// state of that page only, from task_events, a copy of the events in small
// granules that a materialized view keeps, so a page reads its own tasks'
// rows rather than whole 8,192-row granules
// (schema/clickhouse/0017_task_events.sql).
//
// Logs and metric samples are deduplicated the same way, by (tenant,
// event_id). Log reads find their records through log_times (by level and
// time) and log_tasks (by task and time), indexes of every stored copy that
// materialized views keep (schema/clickhouse/0011_log_indexes.sql): a
// listing reads newest first in rounds of candidates from them and keeps
// the winning copies from logs with FINAL (logs.go), and Stats counts error
// records from log_times alone (stats.go). Metric reads find a range's samples through metric_minutes, a
// per-minute index of event ids that a materialized view keeps, since the
// samples are ordered by identity. The one-minute rollup cannot be a
// materialized view, which would count every redelivered copy: InsertMetrics
// recomputes the rollup rows of the minutes a batch touches from the
// deduplicated samples, and a row replaces an older one by its sample count
// (schema/clickhouse/0008_metrics.sql). MetricSeries reads whole minutes
// from the rollup and the rest from the samples, combining both into the
// same partial aggregates (series.go).
//
// Stats folds, on the server, each task's span from task_snapshots, plain
// rows computed from the deduplicated events, and recomputes from the
// events the tasks that task_changes, a log of inserts a materialized view
// keeps, shows changed since (schema/clickhouse/0015_task_snapshots.sql).
// Reads never write: the writer refreshes the snapshots of the tenants it
// stored progress for about once a minute (RefreshTaskSnapshots). Dashboards and documents are
// ReplacingMergeTree rows read with FINAL; a delete is a row marked deleted.
// A dashboard write that names a version checks, writes and reads back,
// which is as close to a compare-and-set as the engine comes
// (dashboards.go says how close).
//
// A task's tombstone goes to task_deletions, not among the events
// (schema/clickhouse/0020_task_deletions.sql). Every read of events, logs
// and samples joins it to leave out what a deletion covers, inserts drop
// such records, and ALTER TABLE ... DELETE mutations remove the stored ones
// in the background; the per-task tables are computed again from the
// events left (delete.go).
//
// With Config.Cluster the same schema is replicated and sharded over a
// cluster: the migrations are rewritten into replicated local tables and
// Distributed tables under the names the queries use, a task's rows all on
// one shard (cluster.go, schema/clickhouse/CLUSTER.md).
package clickhouse
