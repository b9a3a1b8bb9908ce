package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/taskpulse/taskpulse/schema"
)

// Migration is one numbered schema change, taken from a file named
// NNNN_name.sql, and when it was applied (zero if it is still pending).
type Migration struct {
	Version   int
	Name      string
	AppliedAt time.Time

	file string // the file it comes from; empty when read back from the database
}

// The bookkeeping table is created outside the numbered migrations, since
// the runner must read it before it knows which of them to apply.
const (
	createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER     PRIMARY KEY,
    name       VARCHAR     NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)`
	selectMigrations = `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`
	insertMigration  = `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`
)

var migrationFile = regexp.MustCompile(`^([0-9]+)_([a-z0-9_]+)\.sql$`)

// Migrate applies, in version order, the embedded migrations the database
// has not recorded, each in its own transaction together with its record,
// and returns those it applied. Open calls it; calling it again is a no-op.
func (s *Store) Migrate(ctx context.Context) ([]Migration, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	files, err := fs.Sub(schema.DuckDBMigrations, "duckdb")
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return migrate(ctx, s.db, files, s.log)
}

// Migrations lists the migrations the database has applied, oldest first.
func (s *Store) Migrations(ctx context.Context) ([]Migration, error) {
	return appliedMigrations(ctx, s.db)
}

func migrate(ctx context.Context, db *sql.DB, files fs.FS, log *slog.Logger) ([]Migration, error) {
	available, err := readMigrations(files)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if _, err := db.ExecContext(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	done, err := appliedMigrations(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	applied := make(map[int]bool, len(done))
	for _, m := range done {
		applied[m.Version] = true
	}
	var ran []Migration
	for _, m := range available {
		if applied[m.Version] {
			continue
		}
		m.AppliedAt = time.Now().UTC()
		if err := applyMigration(ctx, db, files, m); err != nil {
			return ran, fmt.Errorf("migrate: %s: %w", m.file, err)
		}
		log.Info("applied migration", "version", m.Version, "name", m.Name)
		ran = append(ran, m)
	}
	return ran, nil
}

// readMigrations lists the migration files in version order and refuses
// a set in which two files share a version.
func readMigrations(files fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		match := migrationFile.FindStringSubmatch(e.Name())
		if match == nil || e.IsDir() {
			continue
		}
		v, err := strconv.Atoi(match[1])
		if err != nil {
			return nil, fmt.Errorf("read migrations: %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: match[2], file: e.Name()})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("read migrations: version %d appears twice", ms[i].Version)
		}
	}
	return ms, nil
}

func applyMigration(ctx context.Context, db *sql.DB, files fs.FS, m Migration) error {
	body, err := fs.ReadFile(files, m.file)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, insertMigration, m.Version, m.Name, m.AppliedAt); err != nil {
		return err
	}
	return tx.Commit()
}

func appliedMigrations(ctx context.Context, db *sql.DB) ([]Migration, error) {
	rows, err := db.QueryContext(ctx, selectMigrations)
	if err != nil {
		return nil, fmt.Errorf("list applied migrations: %w", err)
	}
	defer rows.Close()
	var ms []Migration
	for rows.Next() {
		var m Migration
		if err := rows.Scan(&m.Version, &m.Name, &m.AppliedAt); err != nil {
			return nil, fmt.Errorf("list applied migrations: %w", err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list applied migrations: %w", err)
	}
	return ms, nil
}
