package duckdb_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/duckdb"
	"github.com/taskpulse/taskpulse/internal/store/storetest"
	"github.com/taskpulse/taskpulse/schema"
)

func TestDeletion(t *testing.T) {
	storetest.RunDeletion(t, func(t testing.TB) store.Store {
		return openStore(t, filepath.Join(t.TempDir(), "taskpulse.duckdb"))
	})
}

// TestDeletionSurvivesReopen checks that a deletion still drops a late
// older event after the store is opened again.
func TestDeletionSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taskpulse.duckdb")
	s, err := duckdb.Open(path, duckdb.Options{})
	require.NoError(t, err)
	const ts = 1_750_000_000_000
	tomb := schema.Progress{Tenant: "acme", EventID: "tomb", Timestamp: ts, TaskID: "t", Status: schema.StatusDeleted}
	require.NoError(t, s.InsertProgress(t.Context(), []schema.Progress{tomb}))
	require.NoError(t, s.Close())

	s = openStore(t, path)
	late := []schema.Progress{
		{Tenant: "acme", EventID: "old", Timestamp: ts - 1, TaskID: "t", Status: schema.StatusRunning},
		{Tenant: "acme", EventID: "other", Timestamp: ts - 1, TaskID: "u", Status: schema.StatusRunning},
	}
	require.NoError(t, s.InsertProgress(t.Context(), late))
	_, err = s.Task(t.Context(), "acme", "t")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Task(t.Context(), "acme", "u")
	require.NoError(t, err)
}
