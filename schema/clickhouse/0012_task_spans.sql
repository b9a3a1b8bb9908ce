-- A per-task span that lets Stats read each task's current status and type
-- and its first, first running and latest timestamps without merging the
-- tenant's events with FINAL (some two seconds for 190,000 tasks on 18.16).
--
-- A materialized view feeds it every stored copy of every event, so each
-- column aggregates over all copies, not over the copies FINAL keeps:
--
--   - created, started and updated are min, minIf and max, and latest is one
--     argMax of (status, type) over the order key (timestamp, seq,
--     ingest_order, event_id), as stateSelect takes the latest event. All
--     four are idempotent: a redelivered copy of an event feeds the same
--     values with the same key, so no count changes, and the order of
--     arrival does not matter. They equal the values computed from the
--     deduplicated events whenever the copies of each event agree on the
--     order key, status and type.
-- --   - Copies that disagree (a retried request that ingest stamped again, or
--     a client reusing an event_id for other content) are what FINAL
--     resolves by keeping the copy stored first, and what these aggregates
--     cannot. ids counts the task's distinct event ids, copies its distinct
--     (event_id, timestamp, seq, ingest_order, status, type), both as 64-bit
--     hashes: the two counts are equal when every event's copies agree, and
--     a reader recomputes from its events a task whose counts differ. A
--     collision between two hashes of one task makes the counts differ too,
--     which only costs that recomputation; it could hide a disagreement only
--     where it exactly offsets one. uniqUpTo keeps up to 100 values in a
--     plain array, which merges and reads several times faster than
--     uniqExact's hash set; beyond 100 it reports 101 whatever the count, so
--     a reader recomputes those tasks too.
--
-- task_type is cast to String because a tuning migration makes it
-- LowCardinality on newer servers, and the state type must not depend on
-- it; status is hashed by its Enum8 value.
--
-- The view is created before the backfill so that no event stored while
-- this migration runs is missed; an event both inserted and backfilled
-- feeds the spans twice, which these aggregates absorb. Running the
-- migration again only repeats the backfill, which changes nothing for the
-- same reason.
CREATE TABLE IF NOT EXISTS task_spans
(
    tenant  String,
    task_id String,
    created AggregateFunction(min, Int64),
    started AggregateFunction(minIf, Int64, UInt8),
    updated AggregateFunction(max, Int64),
    latest  AggregateFunction(argMax,
        Tuple(Enum8('pending' = 1, 'running' = 2, 'paused' = 3, 'completed' = 4, 'failed' = 5, 'cancelled' = 6), String),
        Tuple(Int64, Int64, Int64, String)),
    ids     AggregateFunction(uniqUpTo(100), UInt64),
    copies  AggregateFunction(uniqUpTo(100), UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant, task_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS task_spans_mv TO task_spans
AS SELECT
    tenant,
    task_id,
    minState(timestamp) AS created,
    minIfState(timestamp, status = 'running') AS started,
    maxState(timestamp) AS updated,
    argMaxState((status, CAST(task_type AS String)), (timestamp, seq, ingest_order, event_id)) AS latest,
    uniqUpToState(100)(cityHash64(event_id)) AS ids,
    uniqUpToState(100)(cityHash64(event_id, timestamp, seq, ingest_order, toInt8(status), CAST(task_type AS String))) AS copies
FROM progress_events
GROUP BY tenant, task_id;

INSERT INTO task_spans (tenant, task_id, created, started, updated, latest, ids, copies)
SELECT
    tenant,
    task_id,
    minState(timestamp),
    minIfState(timestamp, status = 'running'),
    maxState(timestamp),
    argMaxState((status, CAST(task_type AS String)), (timestamp, seq, ingest_order, event_id)),
    uniqUpToState(100)(cityHash64(event_id)),
    uniqUpToState(100)(cityHash64(event_id, timestamp, seq, ingest_order, toInt8(status), CAST(task_type AS String)))
FROM progress_events
GROUP BY tenant, task_id;
