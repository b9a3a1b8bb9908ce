package clickhouse

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// On a cluster (Config.Cluster), every table of the migrations becomes two
// (schema/clickhouse/CLUSTER.md):
//
//   - NAME_local on every server, the replicated form of the table's
//     engine, whose replicas within a shard share one ZooKeeper path;
//   - NAME, a Distributed table over NAME_local, sharded by the table's
//     sharding key, which the store reads and writes as it does the
//     table on a single server.
//
// Materialized views join the local tables, since a view fires only on
// the server that takes the insert and its rows reach the other replica of
// the shard by replication. The cluster statements are derived from the
// migrations by rewriting each statement, so the schema is written once.

// shardingKeys says on which shard each table's rows go. Every table that
// names a task goes by (tenant, task_id), so a task's events, its rows in
// the per-task tables and its deletions share a shard, and logs and
// samples of a task join them there; those of no task spread by event id.
// The minute tables go by metric, so every version of a rollup row meets
// on one shard and a series read from the rollup sums its minutes there in
// one order, as one server does, rather than merging partial float sums
// from several shards in whichever order they arrive. The rest go by their
// identity.
var shardingKeys = map[string]string{
	"progress_events": byTask,
	"task_events":     byTask,
	"task_summary":    byTask,
	"task_spans":      byTask,
	"task_updates":    byTask,
	"task_changes":    byTask,
	"task_snapshots":  byTask,
	"task_deletions":  byTask,
	"log_tasks":       byTask,
	"logs":            byTaskOrEvent,
	"metrics":         byTaskOrEvent,
	// Filled by views on the shard of their log; the key places only
	// direct inserts, which only a migration's backfill makes.
	"log_times":            "cityHash64(tenant, event_id)",
	"metric_minutes":       byMetric,
	"metric_rollup":        byMetric,
	"metric_stale_minutes": byMetric,
	"dashboards":           "cityHash64(tenant, id)",
	"documents":            "cityHash64(tenant, kind, id)",
}

const (
	byTask        = "cityHash64(tenant, task_id)"
	byTaskOrEvent = "cityHash64(tenant, if(task_id = '', event_id, task_id))"
	byMetric      = "cityHash64(tenant, name)"
)

// localSuffix names a table's replicated local table after its
// Distributed one.
const localSuffix = "_local"

// layout is where the store's tables are: on one server (cluster empty)
// or replicated and sharded over a cluster.
type layout struct {
	cluster, database string
	// shards reaches one replica of every shard, for the statements that
	// change stored parts at run time (shards.go).
	shards *shardSet
}

func (l layout) clustered() bool { return l.cluster != "" }

// alter starts a migration's ALTER TABLE of table: on a cluster, of its
// local tables on every server, since mutations and TTLs act on stored
// parts and a Distributed table has none. At run time such statements go
// to each shard instead (shards.go).
func (l layout) alter(table string) string {
	if !l.clustered() {
		return "ALTER TABLE " + table
	}
	return "ALTER TABLE " + l.local(table) + l.onCluster()
}

// stored names the table that stores table's rows on the server a
// statement goes to: table itself on a single server, its local table
// in full on a cluster's replica, whose connection names no database.
func (l layout) stored(table string) string {
	if !l.clustered() {
		return table
	}
	return l.local(table)
}

// inDatabase is the database of the store's tables as system tables
// filter it, on the server stored's statements go to.
func (l layout) inDatabase() string {
	if !l.clustered() {
		return "currentDatabase()"
	}
	// Validate allows letters, digits and underscores only.
	return "'" + l.database + "'"
}

// localName is table's local table, unqualified, as system tables name it.
func (l layout) localName(table string) string {
	if !l.clustered() {
		return table
	}
	return table + localSuffix
}

func (l layout) local(table string) string {
	return l.database + "." + table + localSuffix
}

func (l layout) onCluster() string { return " ON CLUSTER " + l.cluster }

var (
	createTableStmt = regexp.MustCompile(`(?s)^CREATE TABLE IF NOT EXISTS (\w+)\s*(\(.*\))\s*ENGINE = (\w+)(?:\(([^)]*)\))?(.*)$`)
	createViewStmt  = regexp.MustCompile(`(?s)^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+)(\s+AS SELECT\b.*\bFROM )(\w+)(.*)$`)
	alterStmt       = regexp.MustCompile(`(?s)^ALTER TABLE (\w+)(.*)$`)
	// Columns change, so the Distributed table, which copies its local
	// table's columns when created, is made again.
	changesColumns = regexp.MustCompile(`\b(MODIFY|ADD|DROP|RENAME) COLUMN\b`)
	insertStmt     = regexp.MustCompile(`^INSERT INTO \w+`)
)

// rewrite returns the statements that do on the cluster what stmt does on
// one server. Backfills (INSERT ... SELECT) stay as they are: they read
// and write through the Distributed tables.
func (l layout) rewrite(stmt string) ([]string, error) {
	if !l.clustered() {
		return []string{stmt}, nil
	}
	if m := createTableStmt.FindStringSubmatch(stmt); m != nil {
		table, columns, engine, args, rest := m[1], m[2], m[3], m[4], m[5]
		if !strings.HasSuffix(engine, "MergeTree") {
			return nil, fmt.Errorf("table %s: engine %s has no replicated form", table, engine)
		}
		replicated := fmt.Sprintf("Replicated%s('/clickhouse/tables/{shard}/%s/%s%s', '{replica}'", engine, l.database, table, localSuffix)
		if args != "" {
			replicated += ", " + args
		}
		create := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s\n%s\nENGINE = %s)%s", l.local(table), l.onCluster(), columns, replicated, rest)
		distributed, err := l.createDistributed(table)
		if err != nil {
			return nil, err
		}
		return []string{create, distributed}, nil
	}
	if m := createViewStmt.FindStringSubmatch(stmt); m != nil {
		view, target, query, source, rest := m[1], m[2], m[3], m[4], m[5]
		return []string{fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s.%s%s TO %s%s%s%s",
			l.database, view, l.onCluster(), l.local(target), query, l.local(source), rest)}, nil
	}
	if m := alterStmt.FindStringSubmatch(stmt); m != nil {
		table, rest := m[1], m[2]
		out := []string{l.alter(table) + rest}
		if changesColumns.MatchString(rest) {
			distributed, err := l.createDistributed(table)
			if err != nil {
				return nil, err
			}
			out = append(out, "DROP TABLE IF EXISTS "+l.database+"."+table+l.onCluster(), distributed)
		}
		return out, nil
	}
	if insertStmt.MatchString(stmt) {
		return []string{stmt}, nil
	}
	return nil, fmt.Errorf("no cluster form for %.60q", stmt)
}

func (l layout) createDistributed(table string) (string, error) {
	key, ok := shardingKeys[table]
	if !ok {
		return "", fmt.Errorf("table %s has no sharding key", table)
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s AS %s\nENGINE = Distributed(%s, %s, %s%s, %s)",
		l.database, table, l.onCluster(), l.local(table), l.cluster, l.database, table, localSuffix, key), nil
}

func (c Config) layout() layout {
	return layout{cluster: c.Cluster, database: c.Database}
}

// clusterSettings go with every statement on a cluster; withStrings when
// the server takes settings as strings (19.x and newer).
func clusterSettings(withStrings bool) clickhouse.Settings {
	s := clickhouse.Settings{
		// An insert returns once every shard has its rows, not once they
		// are queued on the server that took it: the writer commits bus
		// offsets after the insert, and reads right after it must see the
		// rows.
		"insert_distributed_sync": 1,
		// Inserts and reads pick a shard's replica by load_balancing
		// alone, not the server the process is connected to: processes
		// connected to different replicas of a shard, as after a
		// failover, still write and read the same one.
		"prefer_localhost_replica": 0,
	}
	if withStrings {
		// An insert goes to the replica of each shard that reads go to,
		// the first live one, so a read sees what was just written
		// rather than a replica still fetching it.
		s["load_balancing"] = "in_order"
	}
	return s
}

// settingsAsStrings is the first protocol revision whose queries carry
// settings as strings; clickhouse-go sends older servers numeric ones only.
const settingsAsStrings = 54429

// checkReplicaOrder makes sure inserts go where reads go. A Distributed
// table sends an insert to one replica of each shard, chosen by the
// session's load_balancing; 18.16 takes no SETTINGS clause in an INSERT
// and only numeric settings from clickhouse-go, so there the servers'
// profile must say in_order, else a read made right after an insert may
// go to the other replica before it has fetched the rows. reopen says the
// server takes string settings, so the connection should be made again
// sending load_balancing with every statement.
func checkReplicaOrder(ctx context.Context, conn driver.Conn) (reopen bool, err error) {
	v, err := conn.ServerVersion()
	if err != nil {
		return false, err
	}
	if v.Revision >= settingsAsStrings {
		return true, nil
	}
	var mode string
	if err := conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'load_balancing'").Scan(&mode); err != nil {
		return false, err
	}
	if mode != "in_order" {
		return false, fmt.Errorf("the server (%s) has load_balancing %s: give the servers' default profile <load_balancing>in_order</load_balancing> (schema/clickhouse/CLUSTER.md)", v, mode)
	}
	return false, nil
}

// migrationsTable creates the migration bookkeeping. On a cluster every
// server holds all of it, one replica each of a single ZooKeeper path, so
// a migrating process reads what any other recorded through any server.
func (l layout) migrationsTable() string {
	if !l.clustered() {
		return createMigrationsTable
	}
	r := strings.NewReplacer(
		"CREATE TABLE IF NOT EXISTS taskpulse_migrations", "CREATE TABLE IF NOT EXISTS "+l.database+".taskpulse_migrations"+l.onCluster(),
		"ENGINE = ReplacingMergeTree", "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/"+l.database+"/taskpulse_migrations', '{shard}-{replica}')",
	)
	return r.Replace(createMigrationsTable)
}

// clusterConn sends every query on a cluster with two settings that
// clickhouse-go cannot send 18.16 as settings (it sends old servers only
// numeric ones), so they go in the query's SETTINGS clause:
//
//   - distributed_product_mode 'global': a subquery of a Distributed table
//     inside a query of another (IN, JOIN) runs once over the whole
//     cluster and goes to every shard with the query, so each shard sees
//     what a single server would, wherever the subquery's rows are. The
//     server's default refuses such queries.
//   - load_balancing 'in_order': a read goes to the first live replica of
//     each shard, where inserts go too (checkReplicaOrder), so a read sees
//     what was just written rather than a replica still fetching it.
type clusterConn struct{ driver.Conn }

const globalSubqueries = "\nSETTINGS distributed_product_mode = 'global', load_balancing = 'in_order'"

// selects matches what reads tables: a SELECT, or an INSERT of one.
var selects = regexp.MustCompile(`^\s*(SELECT|INSERT INTO [^(]+\([^)]*\)\s*SELECT)\b`)

func withGlobalSubqueries(query string) string {
	if !selects.MatchString(query) {
		return query
	}
	return query + globalSubqueries
}

func (c clusterConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	return c.Conn.Query(ctx, withGlobalSubqueries(query), args...)
}

func (c clusterConn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	return c.Conn.QueryRow(ctx, withGlobalSubqueries(query), args...)
}

func (c clusterConn) Exec(ctx context.Context, query string, args ...any) error {
	return c.Conn.Exec(ctx, withGlobalSubqueries(query), args...)
}
