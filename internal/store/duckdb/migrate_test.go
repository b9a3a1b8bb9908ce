package duckdb

import (
	"database/sql"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"testing/fstest"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/require"
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
