-- A per-task summary that lets a task listing find its page without
-- aggregating every event of the tenant.
--
-- It holds only what a listing filters and sorts on: the latest event's
-- timestamp (updated) and, as one argMax over the order key (timestamp, seq,
-- ingest_order, event_id), the latest event's status, user and type. Both are
-- idempotent: a redelivered copy of an event feeds the same value with the
-- same key, so max and argMax do not change, and the order of arrival does
-- not matter. The event count is not idempotent this way and is not kept
-- here; a listing computes it, with the rest of each listed task's state,
-- from the deduplicated events of the page only.
--
-- The materialized view feeds the summary in the same INSERT that stores the
-- events, so a listing sees a batch as soon as InsertProgress returns.
-- task_type is cast to String because a tuning migration makes it
-- LowCardinality on newer servers, and the state type must not depend on it.
--
-- The view is created before the backfill so that no event stored while this
-- migration runs is missed; an event both inserted and backfilled feeds the
-- summary twice, which these aggregates absorb. Running the migration again
-- only repeats the backfill, which changes nothing for the same reason.
CREATE TABLE IF NOT EXISTS task_summary
(
    tenant  String,
    task_id String,
    updated AggregateFunction(max, Int64),
    latest  AggregateFunction(argMax,
        Tuple(Enum8('pending' = 1, 'running' = 2, 'paused' = 3, 'completed' = 4, 'failed' = 5, 'cancelled' = 6), String, String),
        Tuple(Int64, Int64, Int64, String))
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant, task_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS task_summary_mv TO task_summary
AS SELECT
    tenant,
    task_id,
    maxState(timestamp) AS updated,
    argMaxState((status, user_id, CAST(task_type AS String)), (timestamp, seq, ingest_order, event_id)) AS latest
FROM progress_events
GROUP BY tenant, task_id;

INSERT INTO task_summary (tenant, task_id, updated, latest)
SELECT
    tenant,
    task_id,
    maxState(timestamp),
    argMaxState((status, user_id, CAST(task_type AS String)), (timestamp, seq, ingest_order, event_id))
FROM progress_events FINAL
GROUP BY tenant, task_id;
