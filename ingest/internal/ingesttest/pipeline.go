package ingesttest

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/bus/embedded"
	"github.com/taskpulse/taskpulse/internal/store/duckdb"
)

// OpenPipeline opens an embedded bus and a DuckDB store in a temporary
// directory, closed when the test ends: what ingest publishes to and the
// writer drains into.
func OpenPipeline(t testing.TB) (*embedded.Bus, *duckdb.Store) {
	t.Helper()
	dir := t.TempDir()
	b, err := embedded.Open(filepath.Join(dir, "bus"), embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	st, err := duckdb.Open(filepath.Join(dir, "store.duckdb"), duckdb.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return b, st
}
