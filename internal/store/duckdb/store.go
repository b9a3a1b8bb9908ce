package duckdb

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"sync"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/taskpulse/taskpulse/internal/store"
)

// Options tune the embedded database. The zero value lets DuckDB choose.
type Options struct {
	// Threads caps DuckDB's worker threads, which matters when the whole
	// pipeline shares a small machine with the store.
	Threads int
	// MemoryLimit caps DuckDB's buffer memory, in DuckDB's notation
	// ("2GB", "512MiB").
	MemoryLimit string
	// CheckpointThreshold is how large DuckDB lets its write-ahead log
	// grow before a commit checkpoints it into the file, in DuckDB's
	// notation; empty means DefaultCheckpointThreshold.
	CheckpointThreshold string
	// Logger receives a line per applied migration; nil discards.
	Logger *slog.Logger
	// QueryLog, when set, is called with every read query and its
	// arguments right before it runs, so that the same SQL can be timed
	// directly. It may be called from several goroutines at once.
	QueryLog func(query string, args []any)
}

// Store is the DuckDB implementation of store.Store, the whole contract.
// It is safe for use by many goroutines: reads run concurrently, inserts
// one at a time.
type Store struct {
	db       *sql.DB
	log      *slog.Logger
	queryLog func(query string, args []any)

	// writeMu serialises inserts on writer, the one connection that holds
	// the staging tables.
	writeMu sync.Mutex
	writer  *sql.Conn
	// deletingTenants holds every tenant with a row in task_deletions
	// (see deletionsOf); writeMu guards it.
	deletingTenants map[string]bool
	// idTimeCeiling holds, per table read on the first insert into it, a
	// number no stored id_time exceeds (see unstored); writeMu guards it.
	idTimeCeiling map[string]int64

	// dashboardWrites orders dashboard writes (see dashboards.go).
	dashboardWrites sync.Mutex
}

var _ store.Store = (*Store)(nil)

// Open opens the DuckDB file at path, creating it if needed, and applies
// pending migrations. An empty path opens a private in-memory database.
func Open(path string, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	connector, err := duckdb.NewConnector(DSN(path, opts), nil)
	if err != nil {
		return nil, fmt.Errorf("open duckdb %q: %w", path, err)
	}
	s := &Store{db: sql.OpenDB(connector), log: log.With("component", "store", "store", "duckdb"), queryLog: opts.QueryLog,
		idTimeCeiling: map[string]int64{}}
	if err := s.open(context.Background()); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open duckdb %q: %w", path, err)
	}
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	if _, err := s.Migrate(ctx); err != nil {
		return err
	}
	if err := s.loadDeletingTenants(ctx); err != nil {
		return err
	}
	// The writer connection is taken after migrating so that it never
	// holds a catalog older than the schema it writes to.
	w, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("reserve writer connection: %w", err)
	}
	s.writer = w
	return nil
}

// DefaultCheckpointThreshold is CheckpointThreshold unless set. At
// DuckDB's own 16MB a steady stream of log lines is checkpointed every
// 50,000 lines or so, and each checkpoint reads back and compresses again
// the table's last row group (122,880 rows), which is not full yet: a
// profile of the writer showed commits, which checkpoint, taking about half
// of its CPU. At 256MB a row group is compressed about once; the price is a
// longer log to replay after a crash.
const DefaultCheckpointThreshold = "256MB"

// DSN is the data source name Open connects with. Another connection to
// the same file in this process must use it too: DuckDB refuses a second
// connection with a different configuration.
func DSN(path string, opts Options) string {
	q := url.Values{}
	q.Set("checkpoint_threshold", cmp.Or(opts.CheckpointThreshold, DefaultCheckpointThreshold))
	if opts.Threads > 0 {
		q.Set("threads", strconv.Itoa(opts.Threads))
	}
	if opts.MemoryLimit != "" {
		q.Set("memory_limit", opts.MemoryLimit)
	}
	return path + "?" + q.Encode()
}

// query runs a read, telling Options.QueryLog first.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s.queryLog != nil {
		s.queryLog(query, args)
	}
	return s.db.QueryContext(ctx, query, args...)
}

// queryRow runs a read of one row, telling Options.QueryLog first.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if s.queryLog != nil {
		s.queryLog(query, args)
	}
	return s.db.QueryRowContext(ctx, query, args...)
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping duckdb: %w", err)
	}
	return nil
}

// Close waits for a running insert, then closes the database. DuckDB
// checkpoints the file on close, so the next Open starts quickly.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var werr error
	if s.writer != nil {
		werr = s.writer.Close()
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close duckdb: %w", err)
	}
	if werr != nil {
		return fmt.Errorf("close duckdb writer: %w", werr)
	}
	return nil
}
