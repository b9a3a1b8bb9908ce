package grafana_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/grafana"
	"github.com/taskpulse/taskpulse/internal/backend"
	"github.com/taskpulse/taskpulse/internal/datagen"
	chstore "github.com/taskpulse/taskpulse/internal/store/clickhouse"
)

// datasetDatabase is the ClickHouse database the generated data set goes
// to; the test drops and refills it on every run.
const datasetDatabase = "tpgrafana"

// textboxSamples are queries that take a text box variable's value from the
// data set: the filters of the logs dashboard are set from one record
// within the range and level, so that together they still match it.
var textboxSamples = map[string]string{
	"text": `SELECT splitByChar(' ', message)[1]` + sampledLog,
	"attr": `SELECT concat(attr_keys[1], '=', attr_values[1])` + sampledLog,
}

const sampledLog = ` FROM logs FINAL
WHERE tenant = ${tenant:sqlstring} AND toInt8(level) >= ${level} AND notEmpty(attr_keys)
    AND timestamp >= toInt64(toUInt32($__fromTime)) * 1000 AND timestamp <= toInt64(toUInt32($__toTime)) * 1000
ORDER BY timestamp DESC, event_id
LIMIT 1`

// checkedQuery is a panel's query as ClickHouse ran it and the columns it
// returned, which the chDB check runs again.
type checkedQuery struct {
	Name    string   `json:"name"`
	SQL     string   `json:"sql"`
	Columns []string `json:"columns"`
}

// TestPanelQueriesRunOnClickHouse runs every ClickHouse panel's SQL, with
// Grafana's variables set from a generated data set and the plugin's
// macros expanded, and checks that it returns rows with the columns its
// visualisation needs, and the same answer once every stored row has been
// stored again. With TASKPULSE_DASHBOARD_SQL set, it writes the expanded
// queries and the data set there for deploy/chdb-check.sh.
func TestPanelQueriesRunOnClickHouse(t *testing.T) {
	addr := clickhouseAddr(t)
	ctx := context.Background()
	end := time.Now().Truncate(time.Minute)
	generateDataset(t, ctx, addr, end)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Database: datasetDatabase}})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })

	r := timeRange{from: end.Add(-24 * time.Hour), to: end, interval: 5 * time.Minute}
	var checked []checkedQuery
	answers := map[string]string{} // query -> its rows, printed
	for _, m := range models(t) {
		if !readsClickHouse(m) {
			continue
		}
		t.Run(m.UID, func(t *testing.T) {
			vars, varQueries := chooseValues(t, conn, m, r)
			checked = append(checked, varQueries...)
			for _, p := range m.Panels {
				for _, target := range p.Targets {
					name := m.UID + ": " + p.Title
					query, err := expand(target.RawSQL, vars, r)
					require.NoError(t, err, name)
					res, err := run(ctx, conn, query)
					require.NoError(t, err, "%s\n%s", name, query)
					require.NotEmpty(t, res.rows, "%s returned no rows\n%s", name, query)
					require.NoError(t, fitsPanel(p.Type, res.columns), "%s: %v", name, res.columns)
					checked = append(checked, checkedQuery{Name: name, SQL: query, Columns: res.names()})
					answers[query] = res.String()
				}
			}
		})
	}
	require.NotEmpty(t, checked)
	if path := os.Getenv("TASKPULSE_DASHBOARD_SQL"); path != "" {
		writeChdbCheck(t, ctx, conn, path, checked)
	}

	// A batch the writer stores twice (Kafka redelivers it after a crash
	// between the insert and the offset commit) must change no panel: every
	// stored row is inserted again, the materialized views seeing the
	// copies too, and every query must answer as before.
	for _, table := range chdbTables {
		require.NoError(t, conn.Exec(ctx, "INSERT INTO "+table+" SELECT * FROM "+table), table)
	}
	for query, before := range answers {
		res, err := run(ctx, conn, query)
		require.NoError(t, err, query)
		require.Equal(t, before, res.String(), "a redelivered batch changed the answer of\n%s", query)
	}
}

func clickhouseAddr(t *testing.T) string {
	addr := os.Getenv("TASKPULSE_CLICKHOUSE_ADDR")
	if addr == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TASKPULSE_CLICKHOUSE_ADDR is not set; CI must run the dashboards' SQL on ClickHouse (deploy/clickhouse.sh start)")
		}
		t.Skip("TASKPULSE_CLICKHOUSE_ADDR is not set")
	}
	return addr
}

// generateDataset fills datasetDatabase afresh with two days of jobs
// ending at end, with the project's data set generator.
func generateDataset(t *testing.T, ctx context.Context, addr string, end time.Time) {
	t.Helper()
	cfg := chstore.DefaultConfig()
	cfg.Addr = []string{addr}
	cfg.Database = datasetDatabase
	boot, err := clickhouse.Open(&clickhouse.Options{Addr: cfg.Addr})
	require.NoError(t, err)
	require.NoError(t, boot.Exec(ctx, "DROP DATABASE IF EXISTS "+datasetDatabase))
	boot.Close()

	var log strings.Builder
	_, err = datagen.Run(ctx, datagen.Config{
		Dataset: datagen.Dataset{
			DataDir: t.TempDir(),
			Backend: backend.Flags{Bus: backend.BusEmbedded, Store: backend.StoreClickHouse, ClickHouse: cfg},
			Days:    2,
			End:     end,
		},
		Events: 20_000, Tenants: 1, Batch: 5_000, Seed: 1,
	}, &log)
	require.NoError(t, err, log.String())
}

func readsClickHouse(m model) bool {
	for _, p := range m.Panels {
		if p.Datasource.Type == grafana.ClickHouseType {
			return true
		}
	}
	return false
}

// chooseValues sets each variable, in order, as a user would find it: a
// query variable to the first value its query lists (every value, as
// "All" does, when it takes several), a custom one to its current value,
// a text box to a value sampled from the data set. It also returns the
// query variables' queries as they ran.
func chooseValues(t *testing.T, conn driver.Conn, m model, r timeRange) (values, []checkedQuery) {
	t.Helper()
	vars := values{}
	var queries []checkedQuery
	for _, v := range m.Templating.List {
		var listed []string
		switch v.Type {
		case "query":
			var ran checkedQuery
			listed, ran = listValues(t, conn, v.Query, vars, r)
			ran.Name = m.UID + ": variable " + v.Name
			queries = append(queries, ran)
			if !v.Multi {
				listed = listed[:1]
			}
		case "custom":
			require.NotEmpty(t, v.Current.Value, "%s: variable %s has no current value", m.UID, v.Name)
			listed = []string{v.Current.Value}
		case "textbox":
			sample, ok := textboxSamples[v.Name]
			require.True(t, ok, "%s: no sample query for text box %s", m.UID, v.Name)
			listed, _ = listValues(t, conn, sample, vars, r)
			listed = listed[:1]
		default:
			t.Fatalf("%s: variable %s of type %s", m.UID, v.Name, v.Type)
		}
		vars[v.Name] = listed
	}
	t.Logf("%s: variables %v", m.UID, vars)
	return vars, queries
}

// listValues runs a variable's query and returns its non-empty values and
// the query as it ran.
func listValues(t *testing.T, conn driver.Conn, query string, vars values, r timeRange) ([]string, checkedQuery) {
	t.Helper()
	expanded, err := expand(query, vars, r)
	require.NoError(t, err, query)
	res, err := run(context.Background(), conn, expanded)
	require.NoError(t, err, expanded)
	var out []string
	for _, row := range res.rows {
		if s := stringValue(row[0]); s != "" {
			out = append(out, s)
		}
	}
	require.NotEmpty(t, out, "the data set gives no value to\n%s", expanded)
	return out, checkedQuery{SQL: expanded, Columns: res.names()}
}

func stringValue(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return ""
		}
		rv = rv.Elem()
	}
	if rv.Kind() == reflect.String {
		return rv.String()
	}
	b, _ := json.Marshal(rv.Interface())
	return string(b)
}

// result is what a query returned: its columns and every row.
type result struct {
	columns []driver.ColumnType
	rows    [][]any
}

func (r result) names() []string {
	names := make([]string, len(r.columns))
	for i, c := range r.columns {
		names[i] = c.Name()
	}
	return names
}

// String prints the rows, floats to 9 digits, since sums may add the same
// values in another order.
func (r result) String() string {
	var b strings.Builder
	for _, row := range r.rows {
		for _, v := range row {
			if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
				v = rv.Elem().Interface()
			}
			switch x := v.(type) {
			case float64:
				fmt.Fprintf(&b, "%.9g\t", x)
			case float32:
				fmt.Fprintf(&b, "%.6g\t", x)
			default:
				fmt.Fprintf(&b, "%v\t", x)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// run runs a query and reads every row into values of each column's Go
// type.
func run(ctx context.Context, conn driver.Conn, query string) (result, error) {
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return result{}, err
	}
	defer rows.Close()
	res := result{columns: rows.ColumnTypes()}
	for rows.Next() {
		dest := make([]any, len(res.columns))
		for i, c := range res.columns {
			dest[i] = reflect.New(c.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return result{}, err
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = reflect.ValueOf(d).Elem().Interface()
		}
		res.rows = append(res.rows, row)
	}
	return res, rows.Err()
}
