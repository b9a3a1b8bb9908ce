-- Progress events, one row per stored copy of an event.
--
-- The sorting key (tenant, task_id, event_id) is the identity of an event,
-- so ReplacingMergeTree collapses redelivered copies when parts merge, and
-- every query reads with FINAL, which collapses the copies that have not
-- merged yet. A retried request may carry the same event_id with a different
-- timestamp or ingest_order (ingest stamps them again), so neither can be
-- part of the identity. The version column makes the earliest stored copy
-- win: the store writes 2^64-1 minus the insert time in nanoseconds, so a
-- later copy of an event never changes what queries return.
--
-- Deduplicating by (tenant, event_id) alone would need the event_id first in
-- the sorting key, and every read of one task would then scan the tenant.
-- So an event_id reused in two tasks of one tenant is two events here; ingest
-- stamps UUIDv7s, so only a client reusing its own ids across tasks does it.
--
-- There is no partition key: one insert then writes one part, which makes a
-- batch visible all at once or not at all, and copies of an event never end
-- up in different partitions where merges could not collapse them.
--
-- Timestamps are unix milliseconds in Int64, since DateTime64 needs a newer
-- server. Attributes are two parallel arrays, which every version handles.
CREATE TABLE IF NOT EXISTS progress_events
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
    status       Enum8('pending' = 1, 'running' = 2, 'paused' = 3, 'completed' = 4, 'failed' = 5, 'cancelled' = 6),
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
ORDER BY (tenant, task_id, event_id);
