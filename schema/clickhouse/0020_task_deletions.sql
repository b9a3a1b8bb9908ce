-- When each deleted task was deleted: the order key (timestamp, seq,
-- ingest_order, event_id) of every tombstone stored for it, a progress
-- event with status 'deleted' that InsertProgress keeps here rather than
-- in progress_events. A task's deletion is its latest tombstone, max() of
-- the key. The sorting key is the whole row, so a redelivered tombstone
-- collapses into its first copy when parts merge, and reads, which take
-- the max, never depend on whether it has.
--
-- Every read of tasks, events, logs and samples leaves out what a deletion
-- covers: the task's events at or before its key, its logs and samples at
-- or before its millisecond. Inserts drop such records too, and the
-- mutations InsertProgress starts remove the stored ones in the
-- background; reads do not wait for them. The table holds one row per
-- delete request, so reads look it up whole per tenant.
CREATE TABLE IF NOT EXISTS task_deletions
(
    tenant       String,
    task_id      String,
    deleted_at   Int64,
    seq          Int64,
    ingest_order Int64,
    event_id     String
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant, task_id, deleted_at, seq, ingest_order, event_id);
