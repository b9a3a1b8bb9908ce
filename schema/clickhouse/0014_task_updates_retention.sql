-- requires: 20.1
--
-- Expire a task_updates row with the progress events it was made of: every
-- event of a row is at or before its updated time, so once that is older
-- than the 90 days progress_events keeps (0004), the row names only expired
-- events. 20.1 takes a TTL added to an existing table.
ALTER TABLE task_updates
    MODIFY TTL toDateTime(intDiv(updated, 1000)) + INTERVAL 90 DAY;
