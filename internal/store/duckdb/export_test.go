package duckdb_test

import (
	"path/filepath"
	"testing"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/storetest"
)

func TestExportConformance(t *testing.T) {
	storetest.RunExport(t, func(t testing.TB) store.Store {
		return openStore(t, filepath.Join(t.TempDir(), "taskpulse.duckdb"))
	})
}
