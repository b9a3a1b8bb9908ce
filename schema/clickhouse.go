package schema

import "embed"

// ClickHouseMigrations holds the ClickHouse schema as numbered migrations
// (clickhouse/0001_progress_events.sql, ...), applied in version order and
// recorded by the store, so a released file is never edited: a change is a
// new file.
//
// The base schema runs on every server from 18.16 on. A file whose first
// lines carry "-- requires: X.Y" uses features of newer servers (codecs,
// TTL, LowCardinality, skip indexes) and is applied only on a server of
// that version or newer; on an older one it stays pending, so it is applied
// once the server is upgraded.
//
//go:embed clickhouse/*.sql
var ClickHouseMigrations embed.FS
