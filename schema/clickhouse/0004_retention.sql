-- requires: 20.1
--
-- Keep progress events for 90 days after their timestamp. Without a
-- partition key, expired rows are removed by merges rather than by dropping
-- whole parts. 20.1 takes a TTL added to an existing table; older releases
-- are not relied on. A different retention is a new migration, not an edit of
-- this one.
ALTER TABLE progress_events
    MODIFY TTL toDateTime(intDiv(timestamp, 1000)) + INTERVAL 90 DAY;
