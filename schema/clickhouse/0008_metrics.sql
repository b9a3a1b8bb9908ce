-- Metric samples, their per-minute index and the one-minute rollup.
--
-- metrics holds one row per stored copy of a sample, deduplicated like
-- logs: ReplacingMergeTree on the identity (tenant, event_id), read with
-- FINAL, the copy stored first winning. Labels are two parallel arrays,
-- keys sorted, so equal label sets are equal rows.
CREATE TABLE IF NOT EXISTS metrics
(
    tenant       String,
    event_id     String,
    timestamp    Int64,
    ingest_order Int64,
    name         String,
    kind         Enum8('gauge' = 1, 'counter' = 2, 'histogram' = 3),
    value        Float64,
    unit         String,
    label_keys   Array(String),
    label_values Array(String),
    task_id      String,
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, event_id);

-- metric_minutes finds the samples of a metric in a time range, which the
-- identity order of metrics cannot: the event ids of every stored copy, by
-- (tenant, name, minute). A read takes the ids of its minutes from here and
-- then reads those events from metrics with FINAL, so a copy listed here
-- under a minute its winning copy is not in is filtered out there. Identical
-- copies collapse here too; the minute is the timestamp truncated to whole
-- minutes (the store takes only positive timestamps).
CREATE TABLE IF NOT EXISTS metric_minutes
(
    tenant   String,
    name     String,
    minute   Int64,
    event_id String
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant, name, minute, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS metric_minutes_mv TO metric_minutes
AS SELECT tenant, name, intDiv(timestamp, 60000) * 60000 AS minute, event_id
FROM metrics;

-- metric_rollup: one row per series (tenant, name, label set) and minute,
-- which queries read instead of the samples for whole-minute buckets.
--
-- A materialized view over metrics would add every stored copy of a sample,
-- so a redelivered batch would count twice. Instead the store recomputes
-- the rows of every minute a batch touches from the deduplicated samples
-- (metrics FINAL), after the batch is stored, and inserts them whole. A
-- recomputed row replaces an older one by its sample count, the version:
-- the samples of a minute only ever grow, so of two recomputations the one
-- that saw more samples saw all the other saw. That keeps the rows exact
-- when batches are redelivered, when two writers store the same minute at
-- once, and after an insert that failed between the samples and the rollup
-- (the retry, or the next batch of that minute, recomputes it).
--
-- The last value keeps its whole order key (timestamp, ingest order, event
-- id), so merging minutes picks the sample the raw samples would.
--
-- bins and counts are the minute's quantile sketch: [low, high] cut into 64
-- equal bins, the occupied ones listed with their sample counts. A query
-- takes each bin's samples to be at its centre, which moves each by less
-- than (high - low) / 128, and a bucket's range is at least that of each of
-- its minutes, so quantiles are within 1/128 of the bucket's range. Since a
-- minute is always recomputed whole, its bins never need merging; 18.16's
-- t-digest, which would merge, strays beyond the 5 % the contract allows.
CREATE TABLE IF NOT EXISTS metric_rollup
(
    tenant        String,
    name          String,
    minute        Int64,
    label_keys    Array(String),
    label_values  Array(String),
    samples       UInt64,
    total         Float64,
    low           Float64,
    high          Float64,
    last_value    Float64,
    last_ts       Int64,
    last_order    Int64,
    last_event_id String,
    bins          Array(UInt8),
    counts        Array(UInt64)
)
ENGINE = ReplacingMergeTree(samples)
ORDER BY (tenant, name, minute, label_keys, label_values);
