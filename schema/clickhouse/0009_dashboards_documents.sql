-- Saved dashboards: the latest write of each (tenant, id) wins, as
-- ReplacingMergeTree keeps the row with the greatest written (the store's
-- clock in nanoseconds when it wrote the row). A delete writes a row with
-- deleted = 1, which reads skip. definition is the client's JSON, kept as
-- text and handed back byte for byte.
CREATE TABLE IF NOT EXISTS dashboards
(
    tenant     String,
    id         String,
    title      String,
    definition String,
    version    Int64,
    created_at Int64,
    updated_at Int64,
    deleted    UInt8,
    written    UInt64
)
ENGINE = ReplacingMergeTree(written)
ORDER BY (tenant, id);

-- Small mutable records kept whole as JSON: alert rules, alert states,
-- silences, notifications. The document's own version decides which row
-- stays; the store skips a put that is not above the stored version (see
-- internal/store/clickhouse/documents.go). A delete is a versioned row with
-- deleted = 1.
CREATE TABLE IF NOT EXISTS documents
(
    tenant     String,
    kind       String,
    id         String,
    version    Int64,
    body       String,
    updated_at Int64,
    deleted    UInt8
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, kind, id);
