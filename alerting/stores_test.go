package alerting

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store/clickhouse"
)

// onEachStore runs a rule scenario on DuckDB, and on ClickHouse when
// TASKPULSE_CLICKHOUSE_ADDR names a server (in CI it must).
func onEachStore(t *testing.T, scenario func(t *testing.T, open storeOpener)) {
	t.Run("duckdb", func(t *testing.T) { scenario(t, openDuckDB) })
	t.Run("clickhouse", func(t *testing.T) {
		addr := os.Getenv("TASKPULSE_CLICKHOUSE_ADDR")
		switch {
		case addr != "":
		case os.Getenv("CI") == "true":
			t.Fatal("TASKPULSE_CLICKHOUSE_ADDR is not set; CI must run the rules on ClickHouse (deploy/clickhouse.sh start)")
		default:
			t.Skip("TASKPULSE_CLICKHOUSE_ADDR is not set")
		}
		scenario(t, func(t testing.TB, _ string) testStore { return openClickHouse(t, addr) })
	})
}

// openClickHouse opens a store on a database of its own, dropped when the
// test ends.
func openClickHouse(t testing.TB, addr string) testStore {
	cfg := clickhouse.DefaultConfig()
	cfg.Addr = []string{addr}
	cfg.Database = fmt.Sprintf("taskpulse_alerting_%d", time.Now().UnixNano())
	st, err := clickhouse.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, st.Close())
		admin, err := ch.Open(&ch.Options{Addr: cfg.Addr})
		require.NoError(t, err)
		defer admin.Close()
		require.NoError(t, admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database))
	})
	return st
}
