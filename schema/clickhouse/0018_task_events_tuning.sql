-- requires: 20.1
--
-- Tune task_events (0017) as progress_events is tuned (0002, 0003) and
-- expire its rows with the progress events they copy (0004, 90 days).
-- 20.1 takes LowCardinality, codecs and a TTL added to an existing table.
ALTER TABLE task_events
    MODIFY COLUMN task_type LowCardinality(String),
    MODIFY COLUMN current_step LowCardinality(String),
    MODIFY COLUMN timestamp Int64 CODEC(Delta, ZSTD(1)),
    MODIFY COLUMN ingest_order Int64 CODEC(Delta, ZSTD(1)),
    MODIFY COLUMN message String CODEC(ZSTD(3)),
    MODIFY COLUMN error String CODEC(ZSTD(3)),
    MODIFY COLUMN attr_keys Array(String) CODEC(ZSTD(3)),
    MODIFY COLUMN attr_values Array(String) CODEC(ZSTD(3));

ALTER TABLE task_events
    MODIFY TTL toDateTime(intDiv(timestamp, 1000)) + INTERVAL 90 DAY;
