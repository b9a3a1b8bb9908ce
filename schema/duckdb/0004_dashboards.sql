-- Saved dashboards. definition is the client's JSON, kept as text and
-- handed back byte for byte; the store never looks inside it.
CREATE TABLE dashboards (
    tenant     VARCHAR NOT NULL,
    id         VARCHAR NOT NULL,
    title      VARCHAR NOT NULL,
    definition VARCHAR NOT NULL,
    version    BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (tenant, id)
);
