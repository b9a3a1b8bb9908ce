-- Small mutable records kept whole as JSON: alert rules, alert states,
-- silences, notifications. A put only replaces a lower version, so replays
-- and concurrent writers converge; a delete is a versioned tombstone.
CREATE TABLE documents (
    tenant     VARCHAR NOT NULL,
    kind       VARCHAR NOT NULL,
    id         VARCHAR NOT NULL,
    version    BIGINT  NOT NULL,
    body       VARCHAR NOT NULL,
    updated_at BIGINT  NOT NULL,
    deleted    BOOLEAN NOT NULL,
    PRIMARY KEY (tenant, kind, id)
);
