package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/taskpulse/taskpulse/internal/config"
	"github.com/taskpulse/taskpulse/internal/store/clickhouse"
	"github.com/taskpulse/taskpulse/internal/store/duckdb"
)

// migrate applies the store's pending migrations and lists them. Serving
// applies them too; this is for applying them ahead of a rollout, or after
// a ClickHouse upgrade makes tuning migrations possible.
func migrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./data", "directory of the DuckDB store")
	fs.String("config", "", "YAML file of settings, keyed by flag name")
	var b backendFlags
	b.register(fs)
	if err := config.Parse(fs, args, "config"); err != nil {
		return err
	}
	if err := b.validate(); err != nil {
		return err
	}
	if b.store == storeClickHouse {
		results, err := clickhouse.Migrate(ctx, b.clickhouse)
		if err != nil {
			return err
		}
		if len(results) == 0 {
			fmt.Println("clickhouse: up to date")
		}
		for _, r := range results {
			note := ""
			if r.Requires != "" {
				note = " (requires ClickHouse " + r.Requires + ")"
			}
			fmt.Printf("clickhouse: %04d %s: %s%s\n", r.Version, r.Name, r.Status, note)
		}
		return nil
	}
	s := settings{dataDir: *dataDir}
	if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	st, err := duckdb.Open(s.storePath(), duckdb.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrations(ctx)
	if err != nil {
		return err
	}
	for _, m := range applied {
		fmt.Printf("duckdb %s: %04d %s: applied %s\n", s.storePath(), m.Version, m.Name, m.AppliedAt.Format("2006-01-02 15:04:05"))
	}
	return nil
}
