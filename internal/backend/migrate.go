package backend

import (
	"context"
	"fmt"
	"time"

	"github.com/taskpulse/taskpulse/internal/store/clickhouse"
)

// Migrate applies the chosen store's pending migrations and describes
// each, a line apiece. ClickHouse says what it did with every pending
// migration (Open would apply them without saying), then applies the
// retention flags, since a TTL is part of a table's definition there;
// DuckDB, which applies them all on opening, lists those applied, and
// leaves retention to the writer's passes.
func Migrate(ctx context.Context, f *Flags, dataDir string) ([]string, error) {
	if f.Store == StoreClickHouse {
		results, err := clickhouse.Migrate(ctx, f.ClickHouse)
		if err != nil {
			return nil, err
		}
		lines := []string{"clickhouse: up to date"}
		if len(results) > 0 {
			lines = migrationLines(results)
		}
		b, err := Open(ctx, f, Options{Store: true})
		if err != nil {
			return lines, err
		}
		defer b.Close()
		res, err := b.EnforceRetention(ctx, time.Now())
		if err != nil {
			return lines, err
		}
		return append(lines, fmt.Sprintf("clickhouse: retention %s: %s", f.Retention, res)), nil
	}
	b, err := Open(ctx, f, Options{DataDir: dataDir, Store: true})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	applied, err := b.duck.Migrations(ctx)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, m := range applied {
		lines = append(lines, fmt.Sprintf("duckdb %s: %04d %s: applied %s", StorePath(dataDir), m.Version, m.Name, m.AppliedAt.Format("2006-01-02 15:04:05")))
	}
	return lines, nil
}

// migrationLines describes what ClickHouse's Migrate did, a line per
// migration.
func migrationLines(results []clickhouse.MigrationResult) []string {
	var lines []string
	for _, r := range results {
		note := ""
		if r.Requires != "" {
			note = " (requires ClickHouse " + r.Requires + ")"
		}
		lines = append(lines, fmt.Sprintf("clickhouse: %04d %s: %s%s", r.Version, r.Name, r.Status, note))
	}
	return lines
}
