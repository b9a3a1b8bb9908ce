package clickhouse_test

import (
	"testing"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/storetest"
)

func TestExportConformance(t *testing.T) {
	serverAddr(t)
	storetest.RunExport(t, func(t testing.TB) store.Store {
		return openStore(t, freshConfig(t), nil)
	})
}
