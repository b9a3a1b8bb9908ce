package clickhouse_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/clickhouse"
	"github.com/taskpulse/taskpulse/internal/store/storetest"
	"github.com/taskpulse/taskpulse/schema"
)

// nodeConn connects to one server of the cluster only.
func nodeConn(t testing.TB, addr, database string) ch.Conn {
	t.Helper()
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, Auth: ch.Auth{Database: database}, DialTimeout: 10 * time.Second})
	require.NoError(t, err)
	return conn
}

// TestClusterConformance runs the conformance suites on one store on the
// cluster: every scenario writes under tenants of its own, and migrating a
// database on the cluster takes several seconds. The deletion suite sends
// its mutations to one replica of every shard (shards.go).
func TestClusterConformance(t *testing.T) {
	cfg := clickhouse.FreshClusterConfig(t)
	s := openStore(t, cfg, nil)
	shared := func(testing.TB) store.Store { return s }
	t.Run("Store", func(t *testing.T) { storetest.Run(t, shared) })
	t.Run("Export", func(t *testing.T) { storetest.RunExport(t, shared) })
	t.Run("Deletion", func(t *testing.T) { storetest.RunDeletion(t, shared) })
}

// TestClusterDeletionReachesEveryReplica deletes a task on the cluster and
// requires its covered rows gone from every server's local tables, the
// replica that took each mutation and the one that took it from ZooKeeper.
func TestClusterDeletionReachesEveryReplica(t *testing.T) {
	cfg := clickhouse.FreshClusterConfig(t)
	s := openStore(t, cfg, nil)
	ctx := t.Context()
	const tenant, ts = "acme", int64(1_750_000_000_000)
	var events []schema.Progress
	for i := range 8 {
		task := fmt.Sprintf("t%d", i)
		events = append(events,
			schema.Progress{Tenant: tenant, EventID: task + "-old", Timestamp: ts, TaskID: task, Status: schema.StatusRunning},
			schema.Progress{Tenant: tenant, EventID: task + "-new", Timestamp: ts + 2, TaskID: task, Status: schema.StatusRunning})
		require.NoError(t, s.InsertLogs(ctx, []schema.Log{{Tenant: tenant, EventID: task + "-l", Timestamp: ts, TaskID: task, Level: schema.LevelInfo, Message: "m"}}))
	}
	require.NoError(t, s.InsertProgress(ctx, events))
	var tombs []schema.Progress
	for i := range 8 {
		task := fmt.Sprintf("t%d", i)
		tombs = append(tombs, schema.Progress{Tenant: tenant, EventID: task + "-tomb", Timestamp: ts + 1, TaskID: task, Status: schema.StatusDeleted})
	}
	require.NoError(t, s.InsertProgress(ctx, tombs))

	for _, addr := range cfg.Addr {
		conn := nodeConn(t, addr, cfg.Database)
		defer conn.Close()
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			var events, old, logs uint64
			require.NoError(c, conn.QueryRow(ctx, "SELECT count(), countIf(event_id LIKE '%-old') FROM progress_events_local WHERE tenant = ?", tenant).Scan(&events, &old))
			require.NoError(c, conn.QueryRow(ctx, "SELECT count() FROM logs_local WHERE tenant = ?", tenant).Scan(&logs))
			require.Zero(c, old, "server %s keeps covered events", addr)
			require.Zero(c, logs, "server %s keeps covered logs", addr)
			require.NotZero(c, events, "server %s holds the events after the tombstones of its shard", addr)
		}, time.Minute, 200*time.Millisecond)
	}
	for i := range 8 {
		task, err := s.Task(ctx, tenant, fmt.Sprintf("t%d", i))
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("t%d-new", i), task.EventID)
	}
}

// TestClusterRetention runs a retention pass on the cluster, keeping a
// week of signals forty days and an hour old: on every server the local
// tables end with the recent rows only, and a second pass changes
// nothing.
func TestClusterRetention(t *testing.T) {
	cfg := clickhouse.FreshClusterConfig(t)
	s := openStore(t, cfg, nil)
	ctx := t.Context()
	now := time.Now()
	for i, at := range []time.Time{now.Add(-40 * 24 * time.Hour), now.Add(-time.Hour)} {
		ts := at.UnixMilli()
		for j := range 8 {
			id := fmt.Sprintf("%d-%d", i, j)
			require.NoError(t, s.InsertProgress(ctx, []schema.Progress{{Tenant: "acme", EventID: "p" + id, Timestamp: ts, TaskID: "task-" + id, Status: schema.StatusRunning}}))
			require.NoError(t, s.InsertLogs(ctx, []schema.Log{{Tenant: "acme", EventID: "l" + id, Timestamp: ts, TaskID: "task-" + id, Level: schema.LevelError, Message: "failed"}}))
		}
	}
	week := 7 * 24 * time.Hour
	policy := clickhouse.Retention{Progress: week, Logs: week, Metrics: week, Rollups: week}
	res, err := s.EnforceRetention(ctx, policy, now)
	require.NoError(t, err)
	t.Log(res)
	for _, shard := range []string{"shard 1: ", "shard 2: "} {
		require.True(t, slices.ContainsFunc(res.Actions, func(a string) bool { return strings.HasPrefix(a, shard+"progress_events: ") }),
			"no action on progress_events of %s: %v", shard, res.Actions)
	}

	horizon := now.Add(-week).UnixMilli()
	for _, addr := range cfg.Addr {
		conn := nodeConn(t, addr, cfg.Database)
		defer conn.Close()
		if slices.Compare(serverVersion(t, conn), []int{20, 1}) >= 0 {
			for _, table := range []string{"progress_events_local", "logs_local"} {
				require.NoError(t, conn.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"))
			}
		}
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			for _, table := range []string{"progress_events_local", "task_events_local", "logs_local"} {
				var oldest int64
				var n uint64
				require.NoError(c, conn.QueryRow(ctx, "SELECT toInt64(min(timestamp)), count() FROM "+table).Scan(&oldest, &n))
				require.NotZero(c, n, "%s on %s lost its recent rows", table, addr)
				require.GreaterOrEqual(c, oldest, horizon, "%s on %s keeps rows past the horizon", table, addr)
			}
		}, time.Minute, 200*time.Millisecond)
	}

	again, err := s.EnforceRetention(ctx, policy, now)
	require.NoError(t, err)
	require.Empty(t, again.Actions, "a second pass changed more")
}

// TestClusterMigrateConcurrently migrates one database on the cluster from
// two processes at once and then again: both succeed, the second pass
// applies nothing, and every server holds every table and the record of
// every migration.
func TestClusterMigrateConcurrently(t *testing.T) {
	cfg := clickhouse.FreshClusterConfig(t)
	ctx := t.Context()
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := clickhouse.Migrate(ctx, cfg)
			errs <- err
		}()
	}
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	again, err := clickhouse.Migrate(ctx, cfg)
	require.NoError(t, err)
	var applied []int
	for _, r := range again {
		if r.Status == clickhouse.MigrationApplied {
			applied = append(applied, r.Version)
		}
	}
	require.Empty(t, applied, "a migrated cluster takes no migration again")

	for _, addr := range cfg.Addr {
		conn := nodeConn(t, addr, cfg.Database)
		defer conn.Close()
		var tables uint64
		require.NoError(t, conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name IN ('progress_events', 'progress_events_local', 'task_snapshots', 'task_snapshots_local')").Scan(&tables))
		require.Equal(t, uint64(4), tables, "server %s", addr)
		// Replication may lag the server that recorded a migration.
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			var recorded uint64
			require.NoError(c, conn.QueryRow(ctx, "SELECT count() FROM taskpulse_migrations FINAL WHERE version = 1").Scan(&recorded))
			require.Equal(c, uint64(1), recorded, "server %s", addr)
		}, 30*time.Second, 200*time.Millisecond)
	}
}

// TestClusterPlacement writes through one server and checks where the
// rows are: every server reads every event once, each task's events and
// logs are on one shard, and the replicas of each shard hold the same
// rows.
func TestClusterPlacement(t *testing.T) {
	cfg := clickhouse.FreshClusterConfig(t)
	ctx := t.Context()
	writer := cfg
	writer.Addr = cfg.Addr[:1]
	s := openStore(t, writer, nil)

	const tenant, tasks, perTask = "acme", 40, 5
	var events []schema.Progress
	var logs []schema.Log
	for i := range tasks {
		task := fmt.Sprintf("task-%02d", i)
		for j := range perTask {
			id := fmt.Sprintf("%s-e%d", task, j)
			ts := int64(1_750_000_000_000 + j)
			events = append(events, schema.Progress{Tenant: tenant, TaskID: task, EventID: id, Timestamp: ts, Status: schema.StatusRunning})
			logs = append(logs, schema.Log{Tenant: tenant, TaskID: task, EventID: id, Timestamp: ts, Level: schema.LevelInfo, Message: "m"})
		}
	}
	require.NoError(t, s.InsertProgress(ctx, events))
	require.NoError(t, s.InsertProgress(ctx, events[:tasks]), "a redelivered batch")
	require.NoError(t, s.InsertLogs(ctx, logs))

	shards := clickhouse.ShardOfEachServer(t, cfg)

	taskShards := map[string]map[uint32]bool{} // the shards holding a task's events or logs
	replicaRows := map[uint32][]string{}
	for _, addr := range cfg.Addr {
		conn := nodeConn(t, addr, cfg.Database)
		defer conn.Close()
		// A replica may still be fetching parts from the other.
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			var total, distinct uint64
			require.NoError(c, conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM progress_events FINAL WHERE tenant = ?", tenant).Scan(&total, &distinct))
			require.Equal(c, uint64(tasks*perTask), total, "server %s reads every event once", addr)
			require.Equal(c, total, distinct)
		}, 30*time.Second, 200*time.Millisecond)

		shard, ok := shards[addr]
		require.True(t, ok, "server %s is in cluster %s", addr, cfg.Cluster)
		var local []string
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			local = nil
			for _, table := range []string{"progress_events_local", "logs_local"} {
				rows, err := conn.Query(ctx, "SELECT DISTINCT event_id, task_id FROM "+table+" FINAL WHERE tenant = ? ORDER BY event_id", tenant)
				require.NoError(c, err)
				for rows.Next() {
					var id, task string
					require.NoError(c, rows.Scan(&id, &task))
					local = append(local, table+"/"+id+"/"+task)
				}
				require.NoError(c, rows.Err())
				rows.Close()
			}
			if other, seen := replicaRows[shard]; seen {
				require.Equal(c, other, local, "the replicas of shard %d agree", shard)
			}
		}, 30*time.Second, 200*time.Millisecond)
		replicaRows[shard] = local
		for _, r := range local {
			task := r[strings.LastIndexByte(r, '/')+1:]
			if taskShards[task] == nil {
				taskShards[task] = map[uint32]bool{}
			}
			taskShards[task][shard] = true
		}
	}
	require.Len(t, replicaRows, 2, "rows on both shards")
	stored := 0
	for _, rows := range replicaRows {
		stored += len(rows)
	}
	require.Equal(t, 2*tasks*perTask, stored, "every event and log is on one shard")
	require.Len(t, taskShards, tasks)
	for task, on := range taskShards {
		require.Len(t, on, 1, "task %s's events and logs are on one shard", task)
	}
}
