-- requires: 20.1
--
-- Bloom filter skip indexes let a lookup by event_id or user_id skip the
-- granules that cannot hold it, since neither column leads the sorting key.
-- 20.1 takes data-skipping indexes without an experimental setting; older
-- releases are not relied on.
ALTER TABLE progress_events
    ADD INDEX IF NOT EXISTS idx_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 4,
    ADD INDEX IF NOT EXISTS idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 4;
