package clickhouse

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// On a cluster, what changes stored parts at run time (a task's deletion,
// retention's mutations and TTLs) goes to the local table of one replica
// of every shard, over a connection of its own, and not ON CLUSTER: on
// 18.16 an ALTER ... ON CLUSTER of a replicated table can stop a server's
// DDL worker for good, after which every ON CLUSTER query waits out its
// timeout (schema/clickhouse/CLUSTER.md). A mutation or TTL change made
// on one replica of a replicated table reaches the shard's other replicas
// through ZooKeeper, so one replica a shard is enough, and no server's
// DDL queue is involved.
//
// The shards and their replicas are read from system.clusters once and
// read again after any shard failed. A shard's replicas are tried in turn,
// starting with the last one that answered; a shard none of whose replicas
// takes the statements fails the whole call, so a deletion is not done
// until every shard has its mutations (see applyDeletions).

// shardSet reaches the replicas of one cluster's shards, with one small
// pool per replica, opened when first used and closed with the store.
type shardSet struct {
	cluster string
	// read returns the addresses of each shard's replicas, in shard and
	// replica order, over via, a connection to any server of the cluster.
	read func(ctx context.Context, via driver.Conn) ([][]string, error)
	open func(addr string) (driver.Conn, error)

	mu     sync.Mutex
	shards [][]string // nil until read, and after a shard failed
	// first is the replica of each shard to try first: the last that
	// answered.
	first []int
	pools map[string]driver.Conn
}

func newShardSet(c Config) *shardSet {
	return &shardSet{
		cluster: c.Cluster,
		read:    func(ctx context.Context, via driver.Conn) ([][]string, error) { return readShards(ctx, via, c.Cluster) },
		open:    func(addr string) (driver.Conn, error) { return openReplica(c, addr) },
		pools:   map[string]driver.Conn{},
	}
}

// close closes the replicas' pools.
func (s *shardSet) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for addr, conn := range s.pools {
		errs = append(errs, conn.Close())
		delete(s.pools, addr)
	}
	return errors.Join(errs...)
}

// selectShards lists a cluster's servers as remote_servers names them,
// which is how the servers reach each other and so, in a deployment where
// the store can reach them at all, how the store does too.
const selectShards = `SELECT shard_num, host_name, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num`

func readShards(ctx context.Context, via driver.Conn, cluster string) ([][]string, error) {
	rows, err := via.Query(ctx, selectShards, cluster)
	if err != nil {
		return nil, fmt.Errorf("read the shards of cluster %s: %w", cluster, err)
	}
	defer rows.Close()
	var shards [][]string
	last := uint32(0)
	for rows.Next() {
		var shard uint32
		var host string
		var port uint16
		if err := rows.Scan(&shard, &host, &port); err != nil {
			return nil, fmt.Errorf("read the shards of cluster %s: %w", cluster, err)
		}
		if shard != last || len(shards) == 0 {
			shards, last = append(shards, nil), shard
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], net.JoinHostPort(host, strconv.Itoa(int(port))))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the shards of cluster %s: %w", cluster, err)
	}
	if len(shards) == 0 {
		return nil, fmt.Errorf("cluster %s is not in the server's system.clusters", cluster)
	}
	return shards, nil
}

// openReplica makes the pool of one replica. It names no database, so
// statements name their tables in full, and it dials when first used.
func openReplica(c Config, addr string) (driver.Conn, error) {
	opts := &clickhouse.Options{
		Addr:         []string{addr},
		Auth:         clickhouse.Auth{Username: c.Username, Password: c.Password},
		DialTimeout:  c.DialTimeout,
		ReadTimeout:  c.ReadTimeout,
		MaxOpenConns: c.MaxOpenConns,
		MaxIdleConns: 1,
	}
	if c.TLS {
		opts.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to clickhouse %s: %w", addr, err)
	}
	return conn, nil
}

// each runs f on one replica of every shard at once, shard being the
// shard's number as system.clusters gives it. A shard whose replica fails
// f, or cannot be reached, runs f again on its next replica, so f must be
// safe to run twice. It fails when some shard's replicas all failed; the
// shards are then read again on the next call, in case a replica moved.
func (s *shardSet) each(ctx context.Context, via driver.Conn, f func(ctx context.Context, shard int, conn driver.Conn) error) error {
	shards, first, err := s.topology(ctx, via)
	if err != nil {
		return err
	}
	errs := make([]error, len(shards))
	var wg sync.WaitGroup
	for i, replicas := range shards {
		wg.Go(func() { errs[i] = s.onShard(ctx, i, replicas, first[i], f) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		s.mu.Lock()
		s.shards = nil
		s.mu.Unlock()
		return err
	}
	return nil
}

func (s *shardSet) onShard(ctx context.Context, i int, replicas []string, first int, f func(context.Context, int, driver.Conn) error) error {
	var errs []error
	for n := range replicas {
		r := (first + n) % len(replicas)
		err := s.run(ctx, replicas[r], func(conn driver.Conn) error { return f(ctx, i+1, conn) })
		if err == nil {
			s.mu.Lock()
			if i < len(s.first) {
				s.first[i] = r
			}
			s.mu.Unlock()
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", replicas[r], err))
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("shard %d of cluster %s: no replica took the statements: %w", i+1, s.cluster, errors.Join(errs...))
}

// run calls f with the pool of the replica at addr.
func (s *shardSet) run(ctx context.Context, addr string, f func(driver.Conn) error) error {
	s.mu.Lock()
	conn, ok := s.pools[addr]
	if !ok {
		var err error
		if conn, err = s.open(addr); err != nil {
			s.mu.Unlock()
			return err
		}
		s.pools[addr] = conn
	}
	s.mu.Unlock()
	return f(conn)
}

// topology returns the shards' replicas and the one of each to try first,
// reading them when they are not known.
func (s *shardSet) topology(ctx context.Context, via driver.Conn) ([][]string, []int, error) {
	s.mu.Lock()
	shards, first := s.shards, append([]int(nil), s.first...)
	s.mu.Unlock()
	if shards != nil {
		return shards, first, nil
	}
	shards, err := s.read(ctx, via)
	if err != nil {
		return nil, nil, err
	}
	first = make([]int, len(shards))
	s.mu.Lock()
	s.shards, s.first = shards, append([]int(nil), first...)
	s.mu.Unlock()
	return shards, first, nil
}

// onEveryShard runs f where the store's rows are stored: over the store's
// connection on a single server (shard 0), and on a cluster on one
// replica of every shard (shardSet.each), whose local tables f then
// names (layout.stored).
func (s *Store) onEveryShard(ctx context.Context, f func(ctx context.Context, shard int, conn driver.Conn) error) error {
	if !s.tables.clustered() {
		return f(ctx, 0, s.conn)
	}
	return s.tables.shards.each(ctx, s.conn, f)
}
