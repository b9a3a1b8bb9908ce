package duckdb

import (
	"database/sql"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"testing"
	"testing/fstest"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	connector, err := duckdb.NewConnector(filepath.Join(t.TempDir(), "m.duckdb"), nil)
	require.NoError(t, err)
	db := sql.OpenDB(connector)
	t.Cleanup(func() { db.Close() })
	return db
}

func versions(ms []Migration) []int {
	var vs []int
	for _, m := range ms {
		vs = append(vs, m.Version)
	}
	return vs
}

func TestMigrateAppliesInVersionOrder(t *testing.T) {
	db := openDB(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	files := fstest.MapFS{
		// 0010 sorts before 0002 as text; it needs the table 0002 creates.
		"0010_fill.sql":  {Data: []byte("INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);")},
		"0002_table.sql": {Data: []byte("CREATE TABLE t (x INTEGER);")},
		"README.md":      {Data: []byte("not a migration")},
	}
	ran, err := migrate(t.Context(), db, files, log)
	require.NoError(t, err)
	require.Equal(t, []int{2, 10}, versions(ran))

	files["0011_more.sql"] = &fstest.MapFile{Data: []byte("INSERT INTO t VALUES (3);")}
	ran, err = migrate(t.Context(), db, files, log)
	require.NoError(t, err)
	require.Equal(t, []int{11}, versions(ran), "only the new migration runs")

	var sum int
	require.NoError(t, db.QueryRow("SELECT sum(x) FROM t").Scan(&sum))
	require.Equal(t, 6, sum)
	applied, err := appliedMigrations(t.Context(), db)
	require.NoError(t, err)
	require.Equal(t, []int{2, 10, 11}, versions(applied))
}

func TestMigrateFailureLeavesNoTrace(t *testing.T) {
	db := openDB(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	files := fstest.MapFS{
		"0001_ok.sql":     {Data: []byte("CREATE TABLE a (x INTEGER);")},
		"0002_broken.sql": {Data: []byte("CREATE TABLE b (x INTEGER);\nSELECT * FROM no_such_table;")},
	}
	ran, err := migrate(t.Context(), db, files, log)
	require.ErrorContains(t, err, "0002_broken.sql")
	require.Equal(t, []int{1}, versions(ran))

	applied, err := appliedMigrations(t.Context(), db)
	require.NoError(t, err)
	require.Equal(t, []int{1}, versions(applied))
	var n int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_name = 'b'").Scan(&n))
	require.Zero(t, n, "the failed migration's first statement was kept")
}

func TestMigrateRefusesDuplicateVersions(t *testing.T) {
	_, err := migrate(t.Context(), openDB(t), fstest.MapFS{
		"0001_a.sql": {Data: []byte("SELECT 1;")},
		"1_b.sql":    {Data: []byte("SELECT 1;")},
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.ErrorContains(t, err, "version 1 appears twice")
}

// TestUnkeyedMigrationKeepsRows fills logs and metrics under their old
// primary keys, applies migration 0030 and expects every row kept, with
// the id_time idTime gives its id, and a retry of each still refused.
func TestUnkeyedMigrationKeepsRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.duckdb")
	connector, err := duckdb.NewConnector(path, nil)
	require.NoError(t, err)
	db := sql.OpenDB(connector)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	all, err := fs.Sub(schema.DuckDBMigrations, "duckdb")
	require.NoError(t, err)
	before := fstest.MapFS{}
	entries, err := fs.ReadDir(all, ".")
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() < "0030" {
			body, err := fs.ReadFile(all, e.Name())
			require.NoError(t, err)
			before[e.Name()] = &fstest.MapFile{Data: body}
		}
	}
	_, err = migrate(t.Context(), db, before, log)
	require.NoError(t, err)

	ids := []string{
		"0190b5a4-7a3c-7def-8000-0123456789ab", // UUIDv7
		"0190B5A4-7A3C-7DEF-8000-0123456789AB", // upper case
		"0190b5a4-7a3c-4def-8000-0123456789ab", // UUIDv4
		"0190b5a4-7a3c-7def-8000-0123456789a",  // short
		"0190b5a4x7a3c-7def-8000-0123456789ab", // no hyphen
		"0190b5a4-7a3c-7deg-8000-0123456789ab", // not hex
		"e1",
	}
	for i, id := range ids {
		_, err := db.Exec(`INSERT INTO logs VALUES ('acme', ?, ?, ?, '', '', 'INFO', 2, 'line', '', '', '', [], [])`, id, 1_750_000_000_000+i, i)
		require.NoError(t, err)
		_, err = db.Exec(`INSERT INTO metrics VALUES ('acme', ?, ?, ?, 'm', 'gauge', 1.5, '', [], [], '')`, id, 1_750_000_000_000+i, i)
		require.NoError(t, err)
	}
	ran, err := migrate(t.Context(), db, all, log)
	require.NoError(t, err)
	require.Equal(t, []int{30}, versions(ran))
	for _, table := range []string{"logs", "metrics"} {
		rows, err := db.Query(`SELECT event_id, id_time FROM ` + table + ` ORDER BY ingest_order`)
		require.NoError(t, err)
		var got []string
		for rows.Next() {
			var id string
			var ms int64
			require.NoError(t, rows.Scan(&id, &ms))
			require.Equal(t, idTime(id), ms, "%s: id_time of %s", table, id)
			got = append(got, id)
		}
		require.NoError(t, rows.Err())
		require.Equal(t, ids, got, table)
		var indexes int
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM duckdb_constraints() WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'`, table).Scan(&indexes))
		require.Zero(t, indexes, "%s kept its primary key", table)
	}
	require.Equal(t, int64(0x0190b5a47a3c), idTime(ids[0]))
	require.Equal(t, idTime(ids[0]), idTime(ids[1]))
	for _, id := range ids[2:] {
		require.Zero(t, idTime(id), id)
	}
	require.NoError(t, db.Close())

	s, err := Open(path, Options{})
	require.NoError(t, err)
	defer s.Close()
	var logs []schema.Log
	var samples []schema.Metric
	for i, id := range ids {
		logs = append(logs, schema.Log{Tenant: "acme", EventID: id, Timestamp: 1_760_000_000_000 + int64(i), Level: schema.LevelError, Message: "retry"})
		samples = append(samples, schema.Metric{Tenant: "acme", EventID: id, Timestamp: 1_760_000_000_000 + int64(i), Name: "m", Value: 9})
	}
	require.NoError(t, s.InsertLogs(t.Context(), logs))
	require.NoError(t, s.InsertMetrics(t.Context(), samples))
	for _, table := range []string{"logs", "metrics"} {
		var n int
		require.NoError(t, s.db.QueryRow(`SELECT count(*) FROM `+table).Scan(&n))
		require.Equal(t, len(ids), n, "%s stored a retry of a migrated row", table)
	}
}
