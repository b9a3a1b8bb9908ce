-- requires: 20.1
--
-- Dictionary-encode the columns with few distinct values per part. 20.1
-- takes LowCardinality without an experimental setting; older releases
-- are not relied on. The key columns cannot change type, so tenant stays a String.
ALTER TABLE progress_events
    MODIFY COLUMN task_type LowCardinality(String),
    MODIFY COLUMN current_step LowCardinality(String);
