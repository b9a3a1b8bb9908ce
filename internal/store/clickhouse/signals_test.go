package clickhouse_test

import (
	"testing"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/storetest"
)

func TestSignalsConformance(t *testing.T) {
	serverAddr(t)
	storetest.RunSignals(t, func(t testing.TB) storetest.Signals {
		return openStore(t, freshConfig(t), nil)
	})
}

func TestDocumentConformance(t *testing.T) {
	serverAddr(t)
	storetest.RunDocuments(t, func(t testing.TB) store.DocumentStore {
		return openStore(t, freshConfig(t), nil)
	})
}
