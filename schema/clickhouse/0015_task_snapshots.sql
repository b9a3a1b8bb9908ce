-- The exact span of each task, as plain columns, so that Stats reads one
-- row per task without merging aggregate states: task_spans (0012) costs
-- some half a second at 190,000 tasks on 18.16, most of it in the two
-- uniqUpTo states that tell where its copies disagree, while plain rows
-- read in a tenth of that.
--
-- task_snapshots holds each task's current status and type and its first,
-- first running and latest timestamps, computed from the deduplicated events
-- (progress_events FINAL, the copy stored first winning) as stateSelect
-- computes a task's state, so copies with other content change nothing. A
-- row is exact as of taken_at; ReplacingMergeTree keeps the latest row of a
-- task, and a reader collapses the rows of unmerged parts with FINAL.
--
-- task_changes tells which rows may be stale: its view adds, with every
-- INSERT into progress_events, one row per task with the server time of the
-- insert. A task changed at or after the tenant's newest taken_at less a
-- margin (the longest an insert takes to become visible) is computed again
-- from its events when read, and Stats writes the result back now and then
-- (see refreshSnapshots). Every other task's row reflects all of its
-- events: the write that gave the tenant its newest taken_at computed every
-- task changed since the write before it, less the margin. The sorting key
-- starts with (tenant, changed_at), so finding the changed tasks reads only
-- the recent rows; a task changed twice in one second is one row.
--
-- task_type is cast to String because a tuning migration makes it
-- LowCardinality on newer servers. The view is created before the backfill,
-- and the backfill's taken_at is the time it starts, so an event stored
-- while this migration runs is either read by the backfill or listed as a
-- change after it. Running the migration again only writes newer rows with
-- the same values.
CREATE TABLE IF NOT EXISTS task_changes
(
    tenant     String,
    changed_at DateTime,
    task_id    String
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant, changed_at, task_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS task_changes_mv TO task_changes
AS SELECT
    tenant,
    now() AS changed_at,
    task_id
FROM progress_events
GROUP BY tenant, task_id;

CREATE TABLE IF NOT EXISTS task_snapshots
(
    tenant    String,
    task_id   String,
    status    Enum8('pending' = 1, 'running' = 2, 'paused' = 3, 'completed' = 4, 'failed' = 5, 'cancelled' = 6),
    task_type String,
    created   Int64,
    started   Int64,
    updated   Int64,
    taken_at  DateTime
)
ENGINE = ReplacingMergeTree(taken_at)
ORDER BY (tenant, task_id);

INSERT INTO task_snapshots (tenant, task_id, status, task_type, created, started, updated, taken_at)
SELECT tenant, task_id, latest.1, latest.2, created, started, updated, now()
FROM
(
    SELECT
        tenant,
        task_id,
        argMax((status, CAST(task_type AS String)), (timestamp, seq, ingest_order, event_id)) AS latest,
        min(timestamp) AS created,
        minIf(timestamp, status = 'running') AS started,
        max(timestamp) AS updated
    FROM progress_events FINAL
    GROUP BY tenant, task_id
);
