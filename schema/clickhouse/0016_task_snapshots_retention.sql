-- requires: 20.1
--
-- Expire what Stats reads with the progress events (0004, 90 days). A
-- snapshot row whose latest timestamp is that old describes only expired
-- events. A change row is kept two days longer: ingest takes timestamps at
-- most a day ahead, so by then every event of that insert has expired, and
-- Stats computes again any task whose first event is near the horizon. 20.1
-- takes a TTL added to an existing table.
ALTER TABLE task_snapshots
    MODIFY TTL toDateTime(intDiv(updated, 1000)) + INTERVAL 90 DAY;

ALTER TABLE task_changes
    MODIFY TTL changed_at + INTERVAL 92 DAY;
