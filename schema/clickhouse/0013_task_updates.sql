-- A per-task summary sorted by time, so that a task listing reads only the
-- tasks updated in a recent window instead of merging the summary of every
-- task of the tenant (task_summary, 0006), which costs a quarter of a second
-- at 190,000 tasks on 18.16 whatever the page.
--
-- The view adds one row per task for each INSERT into progress_events:
-- updated is the latest timestamp of the task's events in that insert, and
-- status, user_id and task_type are those of its latest event among them by
-- the order key (timestamp, seq, ingest_order, event_id), as in
-- task_summary. The sorting key starts with (tenant, updated), so a read of
-- the rows with updated >= lo skips every older granule. Such a read is
-- exact for every task whose latest event is at or after lo: the row that
-- holds its latest event is among those read, and the greatest updated of
-- its rows is that event's. A task updated before lo has no row there at
-- all. So a listing reads a window ending now and widens it only while the
-- page is not full (see Tasks). The columns are plain values rather than
-- aggregate states, so a filtered listing keeps the rows that match and are
-- their task's latest instead of merging a state per task, which costs
-- several times more; where two rows of a task share the latest updated,
-- both are kept, and the listing's exact step decides.
--
-- max and argMax are idempotent: a redelivered copy of an event feeds the
-- same value with the same key, so no result changes, and the order of
-- arrival does not matter; a batch delivered twice only adds rows equal to
-- those it added before. Like task_summary, the rows come from every stored
-- copy; a listing computes the exact state of each task it names from the
-- deduplicated events.
--
-- task_type is cast to String because a tuning migration makes it
-- LowCardinality on newer servers, and this table's type must not depend on
-- it. The view is created before the backfill so that no event stored while
-- this migration runs is missed; an event both inserted and backfilled adds
-- a second row that these aggregates absorb, and so does running the
-- migration again. The backfill writes one row per task, which is all a
-- read needs of the events before it.
CREATE TABLE IF NOT EXISTS task_updates
(
    tenant    String,
    updated   Int64,
    task_id   String,
    status    Enum8('pending' = 1, 'running' = 2, 'paused' = 3, 'completed' = 4, 'failed' = 5, 'cancelled' = 6),
    user_id   String,
    task_type String
)
ENGINE = MergeTree
ORDER BY (tenant, updated, task_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS task_updates_mv TO task_updates
AS SELECT
    tenant,
    max(timestamp) AS updated,
    task_id,
    argMax(status, (timestamp, seq, ingest_order, event_id)) AS status,
    argMax(user_id, (timestamp, seq, ingest_order, event_id)) AS user_id,
    argMax(CAST(task_type AS String), (timestamp, seq, ingest_order, event_id)) AS task_type
FROM progress_events
GROUP BY tenant, task_id;

INSERT INTO task_updates (tenant, updated, task_id, status, user_id, task_type)
SELECT
    tenant,
    max(timestamp),
    task_id,
    argMax(status, (timestamp, seq, ingest_order, event_id)),
    argMax(user_id, (timestamp, seq, ingest_order, event_id)),
    argMax(CAST(task_type AS String), (timestamp, seq, ingest_order, event_id))
FROM progress_events
GROUP BY tenant, task_id;
