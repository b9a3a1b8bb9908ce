package grafana_test

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/stretchr/testify/require"
)

// chdbTables are the tables a data set is loaded into on chDB. The
// materialized views fill the others from them as they do on the server
// (task_summary, task_spans, log_times, log_tasks, metric_minutes);
// metric_rollup is written by the store itself, so it is copied.
var chdbTables = []string{"progress_events", "logs", "metrics", "metric_rollup"}

// chdbCheck is the file deploy/chdb_check.py reads: the data set as
// JSONEachRow rows per table, and the expanded queries with the columns
// they returned on the server.
type chdbCheck struct {
	Tables  map[string][]map[string]any `json:"tables"`
	Queries []checkedQuery              `json:"queries"`
}

func writeChdbCheck(t *testing.T, ctx context.Context, conn driver.Conn, path string, queries []checkedQuery) {
	t.Helper()
	check := chdbCheck{Tables: map[string][]map[string]any{}, Queries: queries}
	for _, table := range chdbTables {
		res, err := run(ctx, conn, "SELECT * FROM "+table)
		require.NoError(t, err, table)
		names := res.names()
		for _, row := range res.rows {
			obj := make(map[string]any, len(row))
			for i, v := range row {
				obj[names[i]] = jsonValue(v)
			}
			check.Tables[table] = append(check.Tables[table], obj)
		}
	}
	raw, err := json.Marshal(check)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, raw, 0o644))
	t.Logf("wrote %d queries and the data set to %s for deploy/chdb-check.sh", len(queries), path)
}

// jsonValue is v as JSONEachRow takes it: an Array(UInt8) as numbers, not
// the base64 text encoding/json makes of a []byte, and null for a Nullable
// without a value.
func jsonValue(v any) any {
	if b, ok := v.([]uint8); ok {
		out := make([]int, len(b))
		for i, x := range b {
			out[i] = int(x)
		}
		return out
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		return rv.Elem().Interface()
	}
	return v
}
