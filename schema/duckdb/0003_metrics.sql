-- Metric samples exactly as received, idempotent on (tenant, event_id).
-- Labels are two parallel arrays, keys sorted.
CREATE TABLE metrics (
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
    PRIMARY KEY (tenant, event_id)
);

-- One row per series (tenant, name, label set) and minute, kept by the
-- insert path from the samples it really inserted. series is the label set
-- as canonical JSON (keys sorted), the key the arrays cannot be. The last
-- value keeps its whole order key (timestamp, ingest order, event id) so
-- that merging minutes and batches picks the same sample the raw table
-- would. q_exp, q_bins and q_counts are the minute's quantile sketch: the
-- count of samples in each occupied bin of width 2^q_exp, bin i covering
-- [i * 2^q_exp, (i+1) * 2^q_exp); see internal/store/duckdb/sketch.go.
CREATE TABLE metric_rollup (
    tenant        VARCHAR   NOT NULL,
    name          VARCHAR   NOT NULL,
    series        VARCHAR   NOT NULL,
    label_keys    VARCHAR[] NOT NULL,
    label_values  VARCHAR[] NOT NULL,
    minute        BIGINT    NOT NULL,
    count         BIGINT    NOT NULL,
    sum           DOUBLE    NOT NULL,
    min           DOUBLE    NOT NULL,
    max           DOUBLE    NOT NULL,
    last_value    DOUBLE    NOT NULL,
    last_ts       BIGINT    NOT NULL,
    last_order    BIGINT    NOT NULL,
    last_event_id VARCHAR   NOT NULL,
    q_exp         INTEGER   NOT NULL,
    q_bins        BIGINT[]  NOT NULL,
    q_counts      BIGINT[]  NOT NULL,
    PRIMARY KEY (tenant, name, series, minute)
);
