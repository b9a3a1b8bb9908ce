package clickhouse

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

var testCluster = layout{cluster: "tp", database: "db"}

func TestClusterRewrite(t *testing.T) {
	f := func(stmt string, want ...string) {
		t.Helper()
		got, err := testCluster.rewrite(stmt)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	f("CREATE TABLE IF NOT EXISTS dashboards\n(\n    x Enum8('p' = 1),\n    v UInt64\n)\nENGINE = ReplacingMergeTree(v)\nORDER BY x\nSETTINGS index_granularity = 256",
		"CREATE TABLE IF NOT EXISTS db.dashboards_local ON CLUSTER tp\n(\n    x Enum8('p' = 1),\n    v UInt64\n)\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/dashboards_local', '{replica}', v)\nORDER BY x\nSETTINGS index_granularity = 256",
		"CREATE TABLE IF NOT EXISTS db.dashboards ON CLUSTER tp AS db.dashboards_local\nENGINE = Distributed(tp, db, dashboards_local, cityHash64(tenant, id))",
	)
	f("CREATE TABLE IF NOT EXISTS dashboards\n(\n    x AggregateFunction(max, Int64)\n)\nENGINE = AggregatingMergeTree\nORDER BY x",
		"CREATE TABLE IF NOT EXISTS db.dashboards_local ON CLUSTER tp\n(\n    x AggregateFunction(max, Int64)\n)\nENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/db/dashboards_local', '{replica}')\nORDER BY x",
		"CREATE TABLE IF NOT EXISTS db.dashboards ON CLUSTER tp AS db.dashboards_local\nENGINE = Distributed(tp, db, dashboards_local, cityHash64(tenant, id))",
	)
	f("CREATE MATERIALIZED VIEW IF NOT EXISTS v TO dashboards\nAS SELECT x, max(y) AS y\nFROM b\nGROUP BY x",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS db.v ON CLUSTER tp TO db.dashboards_local\nAS SELECT x, max(y) AS y\nFROM db.b_local\nGROUP BY x")
	f("ALTER TABLE dashboards\n    MODIFY TTL toDateTime(t) + INTERVAL 1 DAY",
		"ALTER TABLE db.dashboards_local ON CLUSTER tp\n    MODIFY TTL toDateTime(t) + INTERVAL 1 DAY")
	f("ALTER TABLE dashboards\n    MODIFY COLUMN s Enum8('x' = 1)",
		"ALTER TABLE db.dashboards_local ON CLUSTER tp\n    MODIFY COLUMN s Enum8('x' = 1)",
		"DROP TABLE IF EXISTS db.dashboards ON CLUSTER tp",
		"CREATE TABLE IF NOT EXISTS db.dashboards ON CLUSTER tp AS db.dashboards_local\nENGINE = Distributed(tp, db, dashboards_local, cityHash64(tenant, id))",
	)
	f("INSERT INTO dashboards (x) SELECT x FROM b FINAL", "INSERT INTO dashboards (x) SELECT x FROM b FINAL")

	_, err := testCluster.rewrite("CREATE TABLE IF NOT EXISTS dashboards (x UInt8) ENGINE = Memory")
	require.ErrorContains(t, err, "no replicated form")
	_, err = testCluster.rewrite("OPTIMIZE TABLE dashboards FINAL")
	require.ErrorContains(t, err, "no cluster form")

	// On one server every statement stays as written.
	got, err := layout{database: "db"}.rewrite("ALTER TABLE dashboards MODIFY COLUMN s String")
	require.NoError(t, err)
	require.Equal(t, []string{"ALTER TABLE dashboards MODIFY COLUMN s String"}, got)
}

// TestClusterRewritesEveryMigration checks that every statement of every
// migration has a cluster form, that every table has a sharding key, and
// that no statement on the cluster names a table but through its
// database.
func TestClusterRewritesEveryMigration(t *testing.T) {
	migrations, err := loadMigrations(schema.ClickHouseMigrations)
	require.NoError(t, err)
	tables := map[string]bool{}
	for _, m := range migrations {
		for _, stmt := range m.statements {
			out, err := testCluster.rewrite(stmt)
			require.NoError(t, err, "migration %04d_%s", m.version, m.name)
			for _, s := range out {
				if strings.HasPrefix(s, "INSERT") {
					continue
				}
				require.Contains(t, s, " ON CLUSTER tp", "migration %04d_%s", m.version, m.name)
				if name, ok := strings.CutPrefix(s, "CREATE TABLE IF NOT EXISTS db."); ok && strings.Contains(s, "ENGINE = Distributed") {
					tables[strings.Fields(name)[0]] = true
				}
			}
		}
	}
	require.Len(t, tables, len(shardingKeys), "every table with a sharding key is made")
}

func TestWithGlobalSubqueries(t *testing.T) {
	require.Equal(t, "SELECT 1"+globalSubqueries, withGlobalSubqueries("SELECT 1"))
	require.Equal(t, "INSERT INTO a (x, y)\nSELECT x, y FROM b"+globalSubqueries, withGlobalSubqueries("INSERT INTO a (x, y)\nSELECT x, y FROM b"))
	require.Equal(t, "INSERT INTO a (x, y)", withGlobalSubqueries("INSERT INTO a (x, y)"))
	require.Equal(t, "ALTER TABLE a DELETE WHERE x IN (SELECT 1)", withGlobalSubqueries("ALTER TABLE a DELETE WHERE x IN (SELECT 1)"))
}
