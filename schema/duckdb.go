package schema

import "embed"

// DuckDBMigrations holds the DuckDB schema of the all-in-one store as
// numbered migrations (duckdb/0001_base.sql, ...). The store applies the
// ones it has not recorded yet, in version order, so a file once released
// is never edited: a change to the schema is a new file.
//
//go:embed duckdb/*.sql
var DuckDBMigrations embed.FS
