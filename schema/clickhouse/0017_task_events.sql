-- The progress events again, in small granules, so that a task listing
-- computes the state of its page from the page's rows only.
--
-- progress_events keeps the default granule of 8192 rows, and the tasks of
-- a page lie apart in its sorting key: each of them costs a whole granule
-- of every column, and FINAL merges them all. A page of 100 tasks of a
-- dozen events each reads some 800,000 rows for 1,200, which takes 18.16
-- about 100 ms. Here a granule is 256 rows, so the same page reads some
-- 25,000 and takes a fifth of the time or less. The key and the version
-- are those of progress_events, so FINAL keeps the same copy of each event
-- (the one stored first) and a listing reads the state Task reads.
--
-- The materialized view copies every row in the same INSERT that stores
-- the events, so a listing sees a batch as soon as InsertProgress returns.
-- task_type is cast to String because a tuning migration makes it
-- LowCardinality in progress_events on newer servers (0018 does the same
-- here). The status names deleted ahead of progress_events, which names it
-- once tasks can be deleted; 18.16 converts an Enum8 to another only by an
-- explicit CAST, which goes by name.
--
-- The view is created before the backfill so that no event stored while
-- this migration runs is missed; an event both inserted and backfilled is
-- two copies of one key, which FINAL collapses like any redelivered copy.
-- Running the migration again only repeats the backfill, for the same
-- reason.
CREATE TABLE IF NOT EXISTS task_events
(
    tenant       String,
    task_id      String,
    event_id     String,
    timestamp    Int64,
    seq          Int64,
    ingest_order Int64,
    user_id      String,
    task_type    String,
    task_name    String,
    status       Enum8('pending' = 1, 'running' = 2, 'paused' = 3, 'completed' = 4, 'failed' = 5, 'cancelled' = 6, 'deleted' = 7),
    progress     Nullable(Float64),
    current_step String,
    steps_done   Int64,
    steps_total  Int64,
    message      String,
    eta          Nullable(Int64),
    error        String,
    attr_keys    Array(String),
    attr_values  Array(String),
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, task_id, event_id)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS task_events_mv TO task_events
AS SELECT
    tenant, task_id, event_id, timestamp, seq, ingest_order, user_id,
    CAST(task_type AS String) AS task_type, task_name,
    CAST(status AS Enum8('pending' = 1, 'running' = 2, 'paused' = 3, 'completed' = 4, 'failed' = 5, 'cancelled' = 6, 'deleted' = 7)) AS status, progress,
    current_step, steps_done, steps_total, message, eta, error,
    attr_keys, attr_values, version
FROM progress_events;

INSERT INTO task_events (tenant, task_id, event_id, timestamp, seq, ingest_order, user_id, task_type, task_name, status, progress,
    current_step, steps_done, steps_total, message, eta, error, attr_keys, attr_values, version)
SELECT
    tenant, task_id, event_id, timestamp, seq, ingest_order, user_id,
    CAST(task_type AS String), task_name,
    CAST(status AS Enum8('pending' = 1, 'running' = 2, 'paused' = 3, 'completed' = 4, 'failed' = 5, 'cancelled' = 6, 'deleted' = 7)), progress,
    current_step, steps_done, steps_total, message, eta, error,
    attr_keys, attr_values, version
FROM progress_events;
