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

func openStore(t testing.TB, path string) *duckdb.Store {
	t.Helper()
	s, err := duckdb.Open(path, duckdb.Options{Threads: 2})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB) store.Store {
		return openStore(t, filepath.Join(t.TempDir(), "taskpulse.duckdb"))
	})
}

func TestMigrationsRecordedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taskpulse.duckdb")
	s, err := duckdb.Open(path, duckdb.Options{})
	require.NoError(t, err)
	first, err := s.Migrations(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, first)
	require.Equal(t, 1, first[0].Version)
	require.Equal(t, "base", first[0].Name)
	require.False(t, first[0].AppliedAt.IsZero())
	require.NoError(t, s.Close())

	s = openStore(t, path)
	again, err := s.Migrations(t.Context())
	require.NoError(t, err)
	require.Equal(t, first, again, "reopening re-applied or re-recorded a migration")
	ran, err := s.Migrate(t.Context())
	require.NoError(t, err)
	require.Empty(t, ran)
}

func TestDataSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taskpulse.duckdb")
	s, err := duckdb.Open(path, duckdb.Options{})
	require.NoError(t, err)
	progress := 42.5
	events := []schema.Progress{
		{Tenant: "acme", EventID: "e1", Timestamp: 1_750_000_000_000, TaskID: "t", Status: schema.StatusRunning, Progress: &progress},
		{Tenant: "acme", EventID: "e2", Timestamp: 1_750_000_001_000, TaskID: "t", Status: schema.StatusPaused},
	}
	require.NoError(t, s.InsertProgress(t.Context(), events))
	before, err := s.Task(t.Context(), "acme", "t")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = openStore(t, path)
	after, err := s.Task(t.Context(), "acme", "t")
	require.NoError(t, err)
	require.Equal(t, before, after)
	require.Equal(t, 42.5, after.Progress)
	require.Equal(t, int64(2), after.Events)

	// Redelivery after a restart is still recognised.
	require.NoError(t, s.InsertProgress(t.Context(), events))
	after, err = s.Task(t.Context(), "acme", "t")
	require.NoError(t, err)
	require.Equal(t, int64(2), after.Events)
}

func TestInMemory(t *testing.T) {
	s := openStore(t, "")
	require.NoError(t, s.Ping(t.Context()))
	_, err := s.Task(t.Context(), "acme", "t")
	require.ErrorIs(t, err, store.ErrNotFound)
}
