package duckdb

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/storetest"
)

func TestDocumentConformance(t *testing.T) {
	storetest.RunDocuments(t, func(t testing.TB) store.DocumentStore {
		s, err := Open(filepath.Join(t.TempDir(), "docs.duckdb"), Options{})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	})
}
