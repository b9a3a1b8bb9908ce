-- The minutes of a metric that held samples of a deleted task. The rollup
-- row of such a minute is computed again without them and the old one is
-- removed by a mutation (see internal/store/clickhouse/delete.go), but
-- metric_rollup keeps the row that saw the most samples, so until the
-- mutation is done reads would still count them. A series read therefore
-- takes these minutes from the samples, which leave the deleted ones out
-- at once, and the rest from the rollup. A minute stays listed: deletions
-- are rare, and a minute read from the samples costs only its samples.
CREATE TABLE IF NOT EXISTS metric_stale_minutes
(
    tenant String,
    name   String,
    minute Int64
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant, name, minute);
