package deploy_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/stretchr/testify/require"
)

// clusterName is the cluster deploy/clickhouse.sh defines in remote_servers.
const clusterName = "taskpulse"

// requireClickHouseCluster returns the servers of a ClickHouse cluster
// started with deploy/clickhouse.sh start --shards 2 --replicas 2, from
// TASKPULSE_CLICKHOUSE_CLUSTER_ADDRS. Without it the test is skipped, except
// in CI, where it is a failure.
func requireClickHouseCluster(t *testing.T) []string {
	t.Helper()
	s := os.Getenv("TASKPULSE_CLICKHOUSE_CLUSTER_ADDRS")
	if s == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but TASKPULSE_CLICKHOUSE_CLUSTER_ADDRS is not set: start the cluster with deploy/clickhouse.sh start --shards 2 --replicas 2")
		}
		t.Skip("set TASKPULSE_CLICKHOUSE_CLUSTER_ADDRS (deploy/clickhouse.sh start --shards 2 --replicas 2) to run against a ClickHouse cluster")
	}
	return strings.Split(s, ",")
}

func connect(t *testing.T, addr string) driver.Conn {
	t.Helper()
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, DialTimeout: 10 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// shardsOf returns the shard number of each server of the cluster, as the
// server at addrs[0] knows them.
func shardsOf(t *testing.T, conn driver.Conn) map[string]uint32 {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT host_address, port, shard_num FROM system.clusters WHERE cluster = ?", clusterName)
	require.NoError(t, err)
	defer rows.Close()
	shards := map[string]uint32{}
	for rows.Next() {
		var host string
		var port uint16
		var shard uint32
		require.NoError(t, rows.Scan(&host, &port, &shard))
		shards[fmt.Sprintf("%s:%d", host, port)] = shard
	}
	require.NoError(t, rows.Err())
	return shards
}

// eventIDs returns the event ids a query reads, sorted.
func eventIDs(conn driver.Conn, query string) ([]string, error) {
	rows, err := conn.Query(context.Background(), query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, rows.Err()
}

// TestClickHouseClusterReplicatesAndShards creates a replicated table on
// every server with ON CLUSTER and a Distributed table over it, inserts
// through the Distributed table, and reads the rows back from every
// replica: each shard's replicas hold the same rows, a task's rows are on
// one shard, and a retried insert is stored once.
func TestClickHouseClusterReplicatesAndShards(t *testing.T) {
	addrs := requireClickHouseCluster(t)
	first := connect(t, addrs[0])
	shards := shardsOf(t, first)
	for _, a := range addrs {
		require.Contains(t, shards, a, "server %s is in remote_servers of cluster %s", a, clusterName)
	}

	db := "tp_cluster_" + strings.ToLower(rand.Text()[:8])
	ctx := context.Background()
	ddl := func(q string) {
		t.Helper()
		require.NoError(t, first.Exec(ctx, fmt.Sprintf(q, db, clusterName)), q)
	}
	ddl("CREATE DATABASE %s ON CLUSTER %s")
	t.Cleanup(func() { _ = first.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s ON CLUSTER %s", db, clusterName)) })
	// The ZooKeeper path names the database, so a table of another
	// database does not take it over; {shard} and {replica} come from
	// each server's macros.
	ddl(`CREATE TABLE %[1]s.events_local ON CLUSTER %[2]s (
		tenant String, task_id String, event_id String, ts Int64, progress UInt8
	) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/%[1]s/events_local', '{replica}')
	PARTITION BY intDiv(ts, 86400000) ORDER BY (tenant, task_id, event_id)`)
	ddl(`CREATE TABLE %[1]s.events ON CLUSTER %[2]s AS %[1]s.events_local
	ENGINE = Distributed(%[2]s, %[1]s, events_local, cityHash64(tenant, task_id))`)

	// insert_distributed_sync makes the insert return once every shard
	// has its rows, instead of once they are queued on this server.
	insertCtx := ch.Context(ctx, ch.WithSettings(ch.Settings{"insert_distributed_sync": 1}))
	insert := func(conn driver.Conn, ids ...int) {
		t.Helper()
		batch, err := conn.PrepareBatch(insertCtx, "INSERT INTO "+db+".events (tenant, task_id, event_id, ts, progress)")
		require.NoError(t, err)
		for _, i := range ids {
			require.NoError(t, batch.Append("default", fmt.Sprintf("task-%d", i%20), fmt.Sprintf("e%04d", i), int64(1764800000000+i), uint8(i%100)))
		}
		require.NoError(t, batch.Send())
	}
	var all []int
	for i := range 1000 {
		all = append(all, i)
	}
	insert(first, all...)
	// A retry of the same rows through another server, as a writer does
	// after a lost answer: each shard gets the same block again, and
	// replicated tables drop a block they already have.
	insert(connect(t, addrs[len(addrs)-1]), all...)

	var want []string
	for _, i := range all {
		want = append(want, fmt.Sprintf("e%04d", i))
	}
	// Replication is asynchronous: a replica may lag the one that took
	// the insert for a moment, so each shard is read until its replicas
	// agree.
	replicas := map[uint32][]driver.Conn{}
	for _, a := range addrs {
		replicas[shards[a]] = append(replicas[shards[a]], connect(t, a))
	}
	byShard := map[uint32][]string{}
	for shard, conns := range replicas {
		require.Eventually(t, func() bool {
			var first []string
			for i, conn := range conns {
				local, err := eventIDs(conn, "SELECT event_id FROM "+db+".events_local")
				if err != nil || i > 0 && !slices.Equal(first, local) {
					return false
				}
				first = local
			}
			byShard[shard] = first
			return true
		}, 30*time.Second, 100*time.Millisecond, "the replicas of shard %d hold the same rows", shard)
	}
	// A Distributed read asks one replica of each shard, which may still
	// lag; once replication has caught up, every server reads every row
	// once.
	for _, a := range addrs {
		conn := connect(t, a)
		var ids []string
		require.Eventually(t, func() bool {
			var err error
			ids, err = eventIDs(conn, "SELECT event_id FROM "+db+".events FINAL")
			return err == nil && slices.Equal(want, ids)
		}, 30*time.Second, 100*time.Millisecond, "server %s reads every row once through the Distributed table", a)
	}
	require.Len(t, byShard, 2, "two shards")
	var union []string
	tasksOf := map[string]uint32{}
	for shard, ids := range byShard {
		require.NotEmpty(t, ids, "shard %d holds rows", shard)
		union = append(union, ids...)
		for _, id := range ids {
			var n int
			fmt.Sscanf(id, "e%d", &n)
			task := fmt.Sprintf("task-%d", n%20)
			if s, ok := tasksOf[task]; ok {
				require.Equal(t, s, shard, "all rows of %s on one shard", task)
			}
			tasksOf[task] = shard
		}
	}
	slices.Sort(union)
	require.Equal(t, want, union, "the shards split the rows and none is stored twice")
}
