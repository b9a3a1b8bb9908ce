package clickhouse

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/taskpulse/taskpulse/schema"
)

// MigrationStatus says what Migrate did with a migration.
type MigrationStatus string

const (
	// MigrationApplied: the migration ran and is recorded.
	MigrationApplied MigrationStatus = "applied"
	// MigrationSkipped: the server is older than the migration requires.
	// It is not recorded, so it runs once the server is upgraded.
	MigrationSkipped MigrationStatus = "skipped"
)

// MigrationResult is what Migrate did with one pending migration.
type MigrationResult struct {
	Version  int
	Name     string
	Requires string // minimum server version; empty for the base schema
	Status   MigrationStatus
}

// createMigrationsTable records applied migrations. Two processes that
// migrate at once may both record a migration; ReplacingMergeTree and FINAL
// make that one row. Every migration is written to be safe to run twice
// (IF NOT EXISTS, MODIFY COLUMN to the same type), so that race is harmless.
const createMigrationsTable = `CREATE TABLE IF NOT EXISTS taskpulse_migrations
(
    version        UInt32,
    name           String,
    applied_at     Int64,
    server_version String
)
ENGINE = ReplacingMergeTree
ORDER BY version`

const selectAppliedMigrations = `SELECT version FROM taskpulse_migrations FINAL`

// insertMigration goes through the batch API: 18.16 takes the values of an
// "INSERT ... VALUES" sent as a native-protocol query from the query text
// and then waits for data blocks the driver never sends, so such an Exec
// hangs.
const insertMigration = `INSERT INTO taskpulse_migrations (version, name, applied_at, server_version)`

// Migrate connects to the server cfg names, creates the database when it
// is missing and applies, in version order, every embedded migration it has
// not recorded yet whose required server version is met. It returns what it
// did with each pending migration; an up-to-date database gives only the
// migrations skipped for the server's version.
func Migrate(ctx context.Context, cfg Config, opts ...Option) ([]MigrationResult, error) {
	o := buildOptions(opts)
	conn, err := openDatabase(ctx, cfg, o)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return migrate(ctx, conn, o, cfg.layout())
}

func migrate(ctx context.Context, conn driver.Conn, o options, l layout) ([]MigrationResult, error) {
	migrations, err := loadMigrations(schema.ClickHouseMigrations)
	if err != nil {
		return nil, err
	}
	var serverVersion string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&serverVersion); err != nil {
		return nil, fmt.Errorf("read server version: %w", err)
	}
	server, err := parseVersion(serverVersion)
	if err != nil {
		return nil, fmt.Errorf("read server version: %w", err)
	}
	applied, err := l.appliedMigrations(ctx, conn)
	if err != nil {
		return nil, err
	}

	var results []MigrationResult
	for _, m := range migrations {
		if applied[m.version] {
			continue
		}
		r := MigrationResult{Version: m.version, Name: m.name, Requires: m.requires, Status: MigrationSkipped}
		if m.requires != "" && compareVersions(server, m.minServer) < 0 {
			o.logger.Info("migration skipped: server too old", "version", m.version, "name", m.name, "requires", m.requires, "server", serverVersion)
			results = append(results, r)
			continue
		}
		for _, stmt := range m.statements {
			stmts, err := l.rewrite(stmt)
			if err != nil {
				return results, fmt.Errorf("apply migration %04d_%s: %w", m.version, m.name, err)
			}
			for _, stmt := range stmts {
				if err := conn.Exec(ctx, stmt); err != nil {
					return results, fmt.Errorf("apply migration %04d_%s: %w", m.version, m.name, err)
				}
			}
		}
		if err := recordMigration(ctx, conn, m, serverVersion); err != nil {
			return results, fmt.Errorf("record migration %04d_%s: %w", m.version, m.name, err)
		}
		o.logger.Info("migration applied", "version", m.version, "name", m.name)
		r.Status = MigrationApplied
		results = append(results, r)
	}
	return results, nil
}

func recordMigration(ctx context.Context, conn driver.Conn, m migration, serverVersion string) error {
	batch, err := conn.PrepareBatch(ctx, insertMigration)
	if err != nil {
		return err
	}
	defer batch.Abort()
	if err := batch.Append(uint32(m.version), m.name, time.Now().UnixMilli(), serverVersion); err != nil {
		return err
	}
	return batch.Send()
}

// appliedMigrations creates the bookkeeping table and reads it. On a
// cluster, creating it waits for every server, so a table that exists
// already is only read, and a process opening the store while a server is
// down has nothing to wait for when no migration is pending.
func (l layout) appliedMigrations(ctx context.Context, conn driver.Conn) (map[int]bool, error) {
	if l.clustered() {
		var n uint8
		if err := conn.QueryRow(ctx, "EXISTS TABLE taskpulse_migrations").Scan(&n); err != nil {
			return nil, fmt.Errorf("find migrations table: %w", err)
		}
		if n > 0 {
			return readAppliedMigrations(ctx, conn)
		}
	}
	if err := conn.Exec(ctx, l.migrationsTable()); err != nil {
		return nil, fmt.Errorf("create migrations table: %w", err)
	}
	return readAppliedMigrations(ctx, conn)
}

func readAppliedMigrations(ctx context.Context, conn driver.Conn) (map[int]bool, error) {
	rows, err := conn.Query(ctx, selectAppliedMigrations)
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read applied migrations: %w", err)
		}
		applied[int(v)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	return applied, nil
}

type migration struct {
	version    int
	name       string
	requires   string // as written in the file, for reports
	minServer  []int
	statements []string
}

// requiresPrefix starts the header line naming the oldest server a
// migration runs on.
const requiresPrefix = "-- requires:"

// loadMigrations reads NNNN_name.sql files from fsys, sorted by version.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	files, err := fs.Glob(fsys, "clickhouse/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []migration
	for _, file := range files {
		body, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", file, err)
		}
		m, err := parseMigration(path.Base(file), string(body))
		if err != nil {
			return nil, fmt.Errorf("parse migration %s: %w", file, err)
		}
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("two migrations have version %d", ms[i].version)
		}
	}
	return ms, nil
}

func parseMigration(file, body string) (migration, error) {
	num, name, ok := strings.Cut(strings.TrimSuffix(file, ".sql"), "_")
	version, err := strconv.Atoi(num)
	if !ok || err != nil || version <= 0 {
		return migration{}, fmt.Errorf("file name must be NNNN_name.sql")
	}
	m := migration{version: version, name: name}

	// Statements end with a semicolon at the end of a line; the native
	// protocol takes one statement per query.
	var stmt strings.Builder
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if req, ok := strings.CutPrefix(trimmed, requiresPrefix); ok {
			m.requires = strings.TrimSpace(req)
			if m.minServer, err = parseVersion(m.requires); err != nil {
				return migration{}, fmt.Errorf("requires: %w", err)
			}
			continue
		}
		if strings.HasPrefix(trimmed, "--") || (trimmed == "" && stmt.Len() == 0) {
			continue
		}
		stmt.WriteString(line)
		stmt.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			m.statements = append(m.statements, strings.TrimSuffix(strings.TrimSpace(stmt.String()), ";"))
			stmt.Reset()
		}
	}
	if rest := strings.TrimSpace(stmt.String()); rest != "" {
		m.statements = append(m.statements, rest)
	}
	if len(m.statements) == 0 {
		return migration{}, fmt.Errorf("no statements")
	}
	return m, nil
}

// parseVersion reads "18.16.1" or "26.9.2.1" as numbers, so 20.10 sorts
// after 20.9.
func parseVersion(s string) ([]int, error) {
	parts := strings.Split(s, ".")
	v := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a version like 20.1", s)
		}
		v[i] = n
	}
	return v, nil
}

// compareVersions compares server with the components a requirement names:
// server 20.1.3 meets "20.1".
func compareVersions(server, required []int) int {
	for i, r := range required {
		s := 0
		if i < len(server) {
			s = server[i]
		}
		if s != r {
			return s - r
		}
	}
	return 0
}
