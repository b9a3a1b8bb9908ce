-- Progress events exactly as received. The primary key on (tenant, event_id)
-- is what turns a redelivered event into a no-op. Timestamps are unix
-- milliseconds, as in every other store, so that queries and cursors carry
-- the same numbers everywhere. Attributes are two parallel arrays, keys
-- sorted, which is the layout the ClickHouse store uses as well.
CREATE TABLE progress_events (
    tenant       VARCHAR   NOT NULL,
    event_id     VARCHAR   NOT NULL,
    timestamp    BIGINT    NOT NULL,
    seq          BIGINT    NOT NULL,
    ingest_order BIGINT    NOT NULL,
    task_id      VARCHAR   NOT NULL,
    user_id      VARCHAR   NOT NULL,
    task_type    VARCHAR   NOT NULL,
    task_name    VARCHAR   NOT NULL,
    status       VARCHAR   NOT NULL,
    progress     DOUBLE,
    current_step VARCHAR   NOT NULL,
    steps_done   BIGINT    NOT NULL,
    steps_total  BIGINT    NOT NULL,
    message      VARCHAR   NOT NULL,
    eta          BIGINT,
    error        VARCHAR   NOT NULL,
    attr_keys    VARCHAR[] NOT NULL,
    attr_values  VARCHAR[] NOT NULL,
    PRIMARY KEY (tenant, event_id)
);

-- The current state of every task, folded from its events as they are
-- stored. The fields of the latest event by (updated_at, seq, ingest_order,
-- event_id) are copied here; the progress_* columns hold the order key of
-- the latest event that carried a progress value, and are NULL while none
-- has. Keeping the whole key of both lets an out-of-order event be merged
-- without reading the events back. The attributes of the latest event are
-- kept as one JSON object rather than two arrays: every batch rewrites the
-- row of each task it touches, and DuckDB rewrites list columns as a
-- delete and an insert, which made the upsert twice as slow.
CREATE TABLE tasks (
    tenant                VARCHAR   NOT NULL,
    task_id               VARCHAR   NOT NULL,
    user_id               VARCHAR   NOT NULL,
    task_type             VARCHAR   NOT NULL,
    task_name             VARCHAR   NOT NULL,
    status                VARCHAR   NOT NULL,
    current_step          VARCHAR   NOT NULL,
    steps_done            BIGINT    NOT NULL,
    steps_total           BIGINT    NOT NULL,
    message               VARCHAR   NOT NULL,
    eta                   BIGINT,
    error                 VARCHAR   NOT NULL,
    attributes            VARCHAR   NOT NULL,
    progress              DOUBLE,
    progress_at           BIGINT,
    progress_seq          BIGINT,
    progress_ingest_order BIGINT,
    progress_event_id     VARCHAR,
    created_at            BIGINT    NOT NULL,
    started_at            BIGINT,
    updated_at            BIGINT    NOT NULL,
    seq                   BIGINT    NOT NULL,
    ingest_order          BIGINT    NOT NULL,
    event_id              VARCHAR   NOT NULL,
    events                BIGINT    NOT NULL,
    PRIMARY KEY (tenant, task_id)
);
