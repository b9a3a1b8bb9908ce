package clickhouse

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

// deadReplica is an address nothing listens on: connecting fails at once.
const deadReplica = "127.0.0.1:1"

// FreshClusterConfig is a configuration of the cluster the tests use
// (deploy/clickhouse.sh start --shards 2 --replicas 2, or
// TASKPULSE_CLICKHOUSE_CLUSTER) naming a database of its own, dropped on
// every server when the test ends. In CI a missing cluster is a failure;
// elsewhere the test skips. It is exported for the package's external
// tests.
func FreshClusterConfig(t testing.TB) Config {
	t.Helper()
	addrs := os.Getenv("TASKPULSE_CLICKHOUSE_CLUSTER_ADDRS")
	if addrs == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TASKPULSE_CLICKHOUSE_CLUSTER_ADDRS is not set; CI must run the ClickHouse cluster tests (deploy/clickhouse.sh start --shards 2 --replicas 2)")
		}
		t.Skip("TASKPULSE_CLICKHOUSE_CLUSTER_ADDRS is not set; start a cluster with deploy/clickhouse.sh start --shards 2 --replicas 2 to run these tests")
	}
	cfg := DefaultConfig()
	cfg.Addr = strings.Split(addrs, ",")
	cfg.Cluster = cmp.Or(os.Getenv("TASKPULSE_CLICKHOUSE_CLUSTER"), "taskpulse")
	cfg.Database = fmt.Sprintf("taskpulse_test_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		conn, err := connect(context.Background(), cfg, "", options{})
		require.NoError(t, err)
		defer conn.Close()
		require.NoError(t, conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database+" ON CLUSTER "+cfg.Cluster))
	})
	return cfg
}

// ShardOfEachServer is the shard number of each server of cfg's
// cluster, read as the store reads them (readShards). It is exported for
// the package's external tests.
func ShardOfEachServer(t testing.TB, cfg Config) map[string]uint32 {
	t.Helper()
	conn, err := connect(context.Background(), cfg, "", options{})
	require.NoError(t, err)
	defer conn.Close()
	shards, err := readShards(context.Background(), conn, cfg.Cluster)
	require.NoError(t, err)
	of := map[string]uint32{}
	for i, replicas := range shards {
		for _, addr := range replicas {
			of[addr] = uint32(i + 1)
		}
	}
	return of
}

// withShards is a shardSet of cfg's cluster whose shards are those of
// system.clusters changed by edit.
func withShards(cfg Config, edit func(shards [][]string)) *shardSet {
	real := newShardSet(cfg)
	return &shardSet{
		cluster: cfg.Cluster,
		read: func(ctx context.Context, via driver.Conn) ([][]string, error) {
			shards, err := real.read(ctx, via)
			if err == nil {
				edit(shards)
			}
			return shards, err
		},
		open:  real.open,
		pools: map[string]driver.Conn{},
	}
}

// TestShardSetFailsOver runs statements on a cluster one of whose shards
// lists a dead replica first and the other only dead ones: the first
// shard's next replica takes them and is tried first from then on; the
// second fails the call, naming its replicas, and the shards are read
// again on the next call.
func TestShardSetFailsOver(t *testing.T) {
	cfg := FreshClusterConfig(t)
	ctx := t.Context()
	via, err := connect(ctx, cfg, "", options{})
	require.NoError(t, err)
	defer via.Close()

	reads := 0
	var second []string
	set := withShards(cfg, func(shards [][]string) {
		reads++
		require.Len(t, shards, 2)
		second = shards[1]
		shards[0] = []string{deadReplica, shards[0][1]}
		shards[1] = []string{deadReplica, "127.0.0.1:2"}
	})
	macros := map[int]string{}
	err = set.each(ctx, via, func(ctx context.Context, shard int, conn driver.Conn) error {
		var shardMacro, replicaMacro string
		if err := conn.QueryRow(ctx, "SELECT (SELECT substitution FROM system.macros WHERE macro = 'shard'), (SELECT substitution FROM system.macros WHERE macro = 'replica')").Scan(&shardMacro, &replicaMacro); err != nil {
			return err
		}
		macros[shard] = shardMacro + "/" + replicaMacro
		return nil
	})
	require.ErrorContains(t, err, "shard 2 of cluster "+cfg.Cluster)
	require.ErrorContains(t, err, "127.0.0.1:2")
	require.NotContains(t, err.Error(), "shard 1 ", "shard 1 failed over")
	require.Equal(t, map[int]string{1: "1/replica2"}, macros, "shard 1 ran on its second replica")
	require.Nil(t, set.shards, "the shards are read again after a failure")
	require.NotEmpty(t, second)

	set.read = func(ctx context.Context, via driver.Conn) ([][]string, error) {
		reads++
		return [][]string{{deadReplica, second[0]}}, nil
	}
	for range 2 {
		require.NoError(t, set.each(ctx, via, func(ctx context.Context, _ int, conn driver.Conn) error { return conn.Ping(ctx) }))
	}
	require.Equal(t, 2, reads, "the shards are read once more, then kept")
	require.Equal(t, []int{1}, set.first, "the replica that answered is tried first")
}

// TestDeletionWaitsForEveryShard deletes tasks on both shards while one
// shard cannot be reached: the deletion fails, so the writer delivers the
// batch again, while reads already leave out what the tombstones cover.
// Delivered again once the shard is back, the tombstones make their
// mutations there too, and every server loses the covered rows.
func TestDeletionWaitsForEveryShard(t *testing.T) {
	cfg := FreshClusterConfig(t)
	ctx := t.Context()
	s, err := Open(ctx, cfg)
	require.NoError(t, err)
	defer s.Close()

	const tenant, ts, tasks = "acme", int64(1_750_000_000_000), 8
	var events, tombs []schema.Progress
	for i := range tasks {
		task := fmt.Sprintf("t%d", i)
		events = append(events,
			schema.Progress{Tenant: tenant, EventID: task + "-old", Timestamp: ts, TaskID: task, Status: schema.StatusRunning},
			schema.Progress{Tenant: tenant, EventID: task + "-new", Timestamp: ts + 2, TaskID: task, Status: schema.StatusRunning})
		tombs = append(tombs, schema.Progress{Tenant: tenant, EventID: task + "-tomb", Timestamp: ts + 1, TaskID: task, Status: schema.StatusDeleted})
	}
	require.NoError(t, s.InsertProgress(ctx, events))

	reachable := s.tables.shards
	s.tables.shards = withShards(cfg, func(shards [][]string) { shards[1] = []string{deadReplica} })
	err = s.InsertProgress(ctx, tombs)
	require.ErrorContains(t, err, "shard 2 of cluster")
	for i := range tasks {
		task, err := s.Task(ctx, tenant, fmt.Sprintf("t%d", i))
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("t%d-new", i), task.EventID, "reads leave out what the stored tombstone covers")
	}

	s.tables.shards = reachable
	require.NoError(t, s.InsertProgress(ctx, tombs), "the batch delivered again")
	for _, addr := range cfg.Addr {
		node := cfg
		node.Addr = []string{addr}
		conn, err := dial(ctx, node, cfg.Database, options{}, false)
		require.NoError(t, err)
		defer conn.Close()
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			var all, old uint64
			require.NoError(c, conn.QueryRow(ctx, "SELECT count(), countIf(event_id LIKE '%-old') FROM progress_events_local WHERE tenant = ?", tenant).Scan(&all, &old))
			require.Zero(c, old, "server %s keeps covered events", addr)
			require.NotZero(c, all, "server %s holds the events after the tombstones of its shard", addr)
		}, time.Minute, 200*time.Millisecond)
	}
}
