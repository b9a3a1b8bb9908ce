-- requires: 20.1
--
-- Timestamps of one task are sorted by event_id, and event ids are mostly
-- time-ordered (UUIDv7), so deltas are small; text compresses better with
-- ZSTD than with the default LZ4. 20.1 takes these codecs in ALTER; older
-- releases are not relied on.
ALTER TABLE progress_events
    MODIFY COLUMN timestamp Int64 CODEC(Delta, ZSTD(1)),
    MODIFY COLUMN ingest_order Int64 CODEC(Delta, ZSTD(1)),
    MODIFY COLUMN message String CODEC(ZSTD(3)),
    MODIFY COLUMN error String CODEC(ZSTD(3)),
    MODIFY COLUMN attr_keys Array(String) CODEC(ZSTD(3)),
    MODIFY COLUMN attr_values Array(String) CODEC(ZSTD(3));
