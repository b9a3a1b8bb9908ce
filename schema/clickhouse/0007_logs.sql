-- Log records, one row per stored copy of a record.
--
-- As for progress_events, ReplacingMergeTree collapses the copies of a
-- record when parts merge, every read uses FINAL for the copies not merged
-- yet, and the version (2^64-1 minus the insert time in nanoseconds) makes
-- the copy stored first win. The sorting key is the record's identity,
-- (tenant, event_id): a redelivered record may carry another timestamp
-- (ingest stamps it again), so the timestamp cannot be part of it. Ids that
-- ingest stamps are UUIDv7s, so the key order is close to time order anyway.
--
-- level is an Enum8 whose values are the levels' ranks (DEBUG 1 ..
-- CRITICAL 5), so a minimum level is one integer comparison. No partition
-- key, for the reasons given in 0001.
CREATE TABLE IF NOT EXISTS logs
(
    tenant       String,
    event_id     String,
    timestamp    Int64,
    ingest_order Int64,
    task_id      String,
    user_id      String,
    level        Enum8('DEBUG' = 1, 'INFO' = 2, 'WARNING' = 3, 'ERROR' = 4, 'CRITICAL' = 5),
    message      String,
    source       String,
    trace_id     String,
    span_id      String,
    attr_keys    Array(String),
    attr_values  Array(String),
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, event_id);
