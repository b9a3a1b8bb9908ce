-- When each deleted task was deleted: the order key (timestamp, seq,
-- ingest_order, event_id) of the latest tombstone stored for it, a
-- progress event with status 'deleted'. Storing a tombstone removes the
-- task's events at or before that key, its logs and metric samples at or
-- before its millisecond, and the task's row; an insert later drops what
-- it would have removed, so the result does not depend on whether the
-- tombstone or the older events arrived first. A later tombstone of the
-- same task replaces the row, an earlier one changes nothing.
CREATE TABLE task_deletions (
    tenant       VARCHAR NOT NULL,
    task_id      VARCHAR NOT NULL,
    deleted_at   BIGINT  NOT NULL,
    seq          BIGINT  NOT NULL,
    ingest_order BIGINT  NOT NULL,
    event_id     VARCHAR NOT NULL,
    PRIMARY KEY (tenant, task_id)
);
