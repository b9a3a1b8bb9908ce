-- requires: 20.1
--
-- Dictionary-encode the log and metric columns with few distinct values,
-- and compress text and attributes with ZSTD, as 0002 and 0003 do for
-- progress_events. Timestamps follow the key order closely (ingest stamps
-- UUIDv7 event ids), so their deltas are small. 20.1 takes these in ALTER;
-- older releases are not relied on. Sorting key columns cannot change type,
-- and metric names stay Strings like the columns of metric_minutes and
-- metric_rollup they are copied into.
ALTER TABLE logs
    MODIFY COLUMN source LowCardinality(String),
    MODIFY COLUMN timestamp Int64 CODEC(Delta, ZSTD(1)),
    MODIFY COLUMN message String CODEC(ZSTD(3)),
    MODIFY COLUMN attr_keys Array(String) CODEC(ZSTD(3)),
    MODIFY COLUMN attr_values Array(String) CODEC(ZSTD(3));

ALTER TABLE metrics
    MODIFY COLUMN unit LowCardinality(String),
    MODIFY COLUMN timestamp Int64 CODEC(Delta, ZSTD(1)),
    MODIFY COLUMN label_keys Array(String) CODEC(ZSTD(3)),
    MODIFY COLUMN label_values Array(String) CODEC(ZSTD(3));
