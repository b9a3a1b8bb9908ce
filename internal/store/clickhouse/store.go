package clickhouse

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/taskpulse/taskpulse/internal/store"
)

// Store is a store.Store, the whole contract, on a ClickHouse server.
type Store struct {
	conn driver.Conn
	// tables says where the tables are: on one server or on a cluster.
	tables layout

	// lastWrite is the latest stamp writeStamp gave.
	lastWrite atomic.Int64

	// dashboardWrites serialises conditional dashboard writes within the
	// process (see dashboards.go).
	dashboardWrites sync.Mutex
}

var _ store.Store = (*Store)(nil)

// Open connects to the server cfg names, creates the database when it is
// missing and applies the migrations it has not applied yet (see Migrate).
func Open(ctx context.Context, cfg Config, opts ...Option) (*Store, error) {
	o := buildOptions(opts)
	conn, err := openDatabase(ctx, cfg, o)
	if err != nil {
		return nil, err
	}
	if _, err := migrate(ctx, conn, o, cfg.layout()); err != nil {
		conn.Close()
		return nil, err
	}
	tables := cfg.layout()
	if tables.clustered() {
		tables.shards = newShardSet(cfg)
	}
	return &Store{conn: conn, tables: tables}, nil
}

// openDatabase creates cfg.Database when it is missing and returns a
// connection pool whose statements run in it. The server refuses a
// connection that names a database it does not have, so the database is
// created over a first connection that names none.
func openDatabase(ctx context.Context, cfg Config, o options) (driver.Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("clickhouse config: %w", err)
	}
	boot, err := connect(ctx, cfg, "", o)
	if err != nil {
		return nil, err
	}
	err = createDatabase(ctx, boot, cfg.layout())
	boot.Close()
	if err != nil {
		return nil, fmt.Errorf("create database %s: %w", cfg.Database, err)
	}
	return connect(ctx, cfg, cfg.Database, o)
}

// createDatabase creates l's database. On a cluster it does so on every
// server, which waits for all of them, so a database that exists already
// is left alone: a process restarting while a server is down still opens.
func createDatabase(ctx context.Context, conn driver.Conn, l layout) error {
	// The names are checked by Validate; DDL takes no parameters.
	if !l.clustered() {
		return conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+l.database)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", l.database).Scan(&n); err != nil || n > 0 {
		return err
	}
	return conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+l.database+l.onCluster())
}

func connect(ctx context.Context, cfg Config, database string, o options) (driver.Conn, error) {
	conn, err := dial(ctx, cfg, database, o, false)
	if err != nil || !cfg.layout().clustered() {
		return conn, err
	}
	reopen, err := checkReplicaOrder(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse cluster %s: %w", cfg.Cluster, err)
	}
	if reopen {
		conn.Close()
		if conn, err = dial(ctx, cfg, database, o, true); err != nil {
			return nil, err
		}
	}
	return clusterConn{conn}, nil
}

// dial opens a connection pool to cfg's servers; withStrings sends a
// cluster's string settings too.
func dial(ctx context.Context, cfg Config, database string, o options, withStrings bool) (driver.Conn, error) {
	opts := &clickhouse.Options{
		Addr: cfg.Addr,
		Auth: clickhouse.Auth{
			Database: database,
			Username: cfg.Username,
			Password: cfg.Password,
		},
		DialTimeout:  cfg.DialTimeout,
		ReadTimeout:  cfg.ReadTimeout,
		MaxOpenConns: cfg.MaxOpenConns,
		MaxIdleConns: cfg.MaxOpenConns,
		// LZ4 is what 18.16 and current servers both speak, and it cuts
		// the bytes of large insert batches several times over.
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
	}
	if cfg.layout().clustered() {
		opts.Settings = clusterSettings(withStrings)
	}
	if cfg.TLS {
		opts.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if o.queryLog != nil {
		opts.Logger = slog.New(queryLogHandler{f: o.queryLog})
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to clickhouse %v: %w", cfg.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect to clickhouse %v: %w", cfg.Addr, err)
	}
	return conn, nil
}

// Ping reports whether the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping clickhouse: %w", err)
	}
	return nil
}

// Close closes the connections to the server.
func (s *Store) Close() error {
	err := s.conn.Close()
	if s.tables.shards != nil {
		err = errors.Join(err, s.tables.shards.close())
	}
	return err
}

// writeStamp is the version of a row whose latest write must win: the time
// in nanoseconds, made to grow with every call so that two writes in one
// nanosecond still keep their order. Writes from several processes are
// ordered by their clocks.
func (s *Store) writeStamp() uint64 {
	for {
		last, now := s.lastWrite.Load(), time.Now().UnixNano()
		next := max(now, last+1)
		if s.lastWrite.CompareAndSwap(last, next) {
			return uint64(next)
		}
	}
}

// collect runs query and returns what scan makes of each row.
func collect[T any](ctx context.Context, conn driver.Conn, scan func(driver.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
