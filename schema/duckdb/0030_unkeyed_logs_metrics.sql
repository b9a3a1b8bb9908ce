-- Logs and metric samples lose their primary key. They are never updated,
-- yet every append had to insert each row into the key's ART index and
-- check it there, which cost about a third of an insert's CPU, more as
-- the tables grow, and kept the whole index in memory. An insert now looks
-- its batch's event ids up itself (internal/store/duckdb/eventids.go),
-- joined on id_time: the millisecond a UUIDv7 event id carries, which
-- ingest and the clients stamp, and 0 for any other id. id_time is a
-- function of the id alone, so a retry that carries another timestamp
-- still finds its stored copy, and rows arrive roughly in id_time order,
-- so each row group's min/max of it lets the look-up skip all but the few
-- row groups its batch's ids can be in. DuckDB cannot drop a key in place:
-- each table is rebuilt, keeping its rows.
CREATE TABLE logs_unkeyed (
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
    id_time      BIGINT    NOT NULL
);
INSERT INTO logs_unkeyed
SELECT tenant, event_id, timestamp, ingest_order, task_id, user_id, level, level_rank, message, source,
    trace_id, span_id, attr_keys, attr_values,
    CASE WHEN regexp_full_match(event_id, '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-7[0-9a-fA-F]{3}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}')
        THEN ('0x' || substr(event_id, 1, 8) || substr(event_id, 10, 4))::BIGINT ELSE 0 END
FROM logs ORDER BY rowid;
DROP TABLE logs;
ALTER TABLE logs_unkeyed RENAME TO logs;

CREATE TABLE metrics_unkeyed (
    tenant       VARCHAR   NOT NULL,
    event_id     VARCHAR   NOT NULL,
    timestamp    BIGINT    NOT NULL,
    ingest_order BIGINT    NOT NULL,
    name         VARCHAR   NOT NULL,
    kind         VARCHAR   NOT NULL,
    value        DOUBLE    NOT NULL,
    unit         VARCHAR   NOT NULL,
    label_keys   VARCHAR[] NOT NULL,
    label_values VARCHAR[] NOT NULL,
    task_id      VARCHAR   NOT NULL,
    id_time      BIGINT    NOT NULL
);
INSERT INTO metrics_unkeyed
SELECT tenant, event_id, timestamp, ingest_order, name, kind, value, unit, label_keys, label_values, task_id,
    CASE WHEN regexp_full_match(event_id, '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-7[0-9a-fA-F]{3}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}')
        THEN ('0x' || substr(event_id, 1, 8) || substr(event_id, 10, 4))::BIGINT ELSE 0 END
FROM metrics ORDER BY rowid;
DROP TABLE metrics;
ALTER TABLE metrics_unkeyed RENAME TO metrics;
