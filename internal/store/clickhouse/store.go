package clickhouse

import (
	"context"
	"crypto/tls"
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
	if _, err := migrate(ctx, conn, o); err != nil {
		conn.Close()
		return nil, err
	}
	return &Store{conn: conn}, nil
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
	// The name is checked by Validate; DDL takes no parameters.
	err = boot.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+cfg.Database)
	boot.Close()
	if err != nil {
		return nil, fmt.Errorf("create database %s: %w", cfg.Database, err)
	}
	return connect(ctx, cfg, cfg.Database, o)
}

func connect(ctx context.Context, cfg Config, database string, o options) (driver.Conn, error) {
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
	return s.conn.Close()
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
