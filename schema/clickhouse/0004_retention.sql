-- requires: 20.1
--
-- Keep progress events for 90 days after their timestamp. Without a
-- partition key, expired rows are removed by merges rather than by dropping
-- whole parts. 20.1 is the oldest release known to take TTL on a table that
-- already exists. A different retention is a new migration, not an edit of
-- this one.
ALTER TABLE progress_events
    MODIFY TTL toDateTime(intDiv(timestamp, 1000)) + INTERVAL 90 DAY;
