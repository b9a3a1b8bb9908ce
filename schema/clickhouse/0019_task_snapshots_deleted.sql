-- Let task_snapshots (0015) hold a task whose latest event is deleted, as
-- task_events (0017) does, so that writing back the span of a deleted task
-- does not fail. Stats leaves such tasks out. Adding a value to an Enum8
-- changes no stored data, and running this again changes nothing.
ALTER TABLE task_snapshots
    MODIFY COLUMN status Enum8('pending' = 1, 'running' = 2, 'paused' = 3, 'completed' = 4, 'failed' = 5, 'cancelled' = 6, 'deleted' = 7);
