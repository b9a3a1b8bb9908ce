-- Log records exactly as received; the primary key on (tenant, event_id)
-- makes a redelivered record a no-op, as for progress_events. level_rank
-- (DEBUG 1 .. CRITICAL 5) is stored beside the level so that a minimum
-- level is one integer comparison. DuckDB keeps no rows in key order, so
-- time and task look-ups rest on its per-row-group min/max of each
-- column: rows arrive roughly in time order, which makes a timestamp range
-- prune well, and a task's records, written around the same time, share
-- few row groups. A secondary ART index would be maintained on every batch
-- for look-ups those statistics already narrow.
CREATE TABLE logs (
    tenant       VARCHAR   NOT NULL,
    event_id     VARCHAR   NOT NULL,
    timestamp    BIGINT    NOT NULL,
    ingest_order BIGINT    NOT NULL,
    task_id      VARCHAR   NOT NULL,
    user_id      VARCHAR   NOT NULL,
    level        VARCHAR   NOT NULL,
    level_rank   TINYINT   NOT NULL,
    message      VARCHAR   NOT NULL,
    source       VARCHAR   NOT NULL,
    trace_id     VARCHAR   NOT NULL,
    span_id      VARCHAR   NOT NULL,
    attr_keys    VARCHAR[] NOT NULL,
    attr_values  VARCHAR[] NOT NULL,
    PRIMARY KEY (tenant, event_id)
);
