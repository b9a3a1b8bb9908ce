-- Two indexes that find log records by time, which the identity order of
-- logs (tenant, event_id) cannot: a read by time, level or task would
-- otherwise merge every record of the tenant with FINAL.
--
-- Both list every stored copy of a record, as materialized views over logs
-- fill them, so they hold the copy that wins (the one stored first, see
-- 0007) whatever else they hold. A listing takes the event ids of a time
-- window from here and reads those records from logs with FINAL, whose
-- winning copy then decides whether a record is in the window; a copy
-- listed here under a time its winning copy does not have is filtered out
-- there (see internal/store/clickhouse/logs.go). Identical copies collapse
-- here as they do in logs.
--
-- log_times is ordered by level rank before time, so a minimum level reads
-- one run of the index per level, and the rank is the level's Enum8 value
-- (DEBUG 1 .. CRITICAL 5) as a plain integer, which the primary key can
-- compare. version is the copy's version in logs: counting error records
-- from the index alone (Stats) keeps, of an event's copies, the one logs
-- keeps.
CREATE TABLE IF NOT EXISTS log_times
(
    tenant     String,
    level_rank Int8,
    timestamp  Int64,
    event_id   String,
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, level_rank, timestamp, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS log_times_mv TO log_times
AS SELECT tenant, toInt8(level) AS level_rank, timestamp, event_id, version
FROM logs;

-- log_tasks lists the records of each task by time, so the logs of one
-- task are found without reading the tenant's; records of no task are not
-- listed.
CREATE TABLE IF NOT EXISTS log_tasks
(
    tenant    String,
    task_id   String,
    timestamp Int64,
    event_id  String
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant, task_id, timestamp, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS log_tasks_mv TO log_tasks
AS SELECT tenant, task_id, timestamp, event_id
FROM logs
WHERE task_id != '';

-- Backfill the records stored before this migration. The views are created
-- first so that no record stored while it runs is missed; a record both
-- inserted and backfilled is listed twice, which the readers absorb as
-- they absorb any copy. Running the migration again only repeats that.
INSERT INTO log_times (tenant, level_rank, timestamp, event_id, version)
SELECT tenant, toInt8(level), timestamp, event_id, version
FROM logs;

INSERT INTO log_tasks (tenant, task_id, timestamp, event_id)
SELECT tenant, task_id, timestamp, event_id
FROM logs
WHERE task_id != '';
