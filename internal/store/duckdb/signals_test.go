package duckdb_test

import (
	"path/filepath"
	"testing"

	"github.com/taskpulse/taskpulse/internal/store/storetest"
)

func TestSignalsConformance(t *testing.T) {
	storetest.RunSignals(t, func(t testing.TB) storetest.Signals {
		return openStore(t, filepath.Join(t.TempDir(), "signals.duckdb"))
	})
}
