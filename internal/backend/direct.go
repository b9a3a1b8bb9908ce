package backend

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver

	"github.com/taskpulse/taskpulse/internal/store/duckdb"
)

// Direct runs SQL on the database under a store, bypassing the store, to
// tell what the store adds over its database.
type Direct interface {
	// Drain runs one statement and reads every value of every row.
	// ClickHouse statements come with their arguments bound: args is nil.
	Drain(ctx context.Context, query string, args []any) error
	Close() error
}

// openDirect connects to the store's database. The duckdb driver hands a
// second opening of a file, with the same configuration, the database
// instance already open, so the direct SQL reads the same buffers as the
// store.
func openDirect(f *Flags, dataDir string) (Direct, error) {
	if f.Store == StoreClickHouse {
		c := f.ClickHouse
		conn, err := ch.Open(&ch.Options{
			Addr:        c.Addr,
			Auth:        ch.Auth{Database: c.Database, Username: c.Username, Password: c.Password},
			DialTimeout: c.DialTimeout,
			ReadTimeout: c.ReadTimeout,
			Compression: &ch.Compression{Method: ch.CompressionLZ4},
		})
		if err != nil {
			return nil, fmt.Errorf("connect to clickhouse: %w", err)
		}
		return clickhouseDirect{conn}, nil
	}
	db, err := sql.Open("duckdb", duckdb.DSN(StorePath(dataDir), duckdb.Options{}))
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	return duckDirect{db}, nil
}

type duckDirect struct{ db *sql.DB }

func (d duckDirect) Close() error { return d.db.Close() }

func (d duckDirect) Drain(ctx context.Context, query string, args []any) error {
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
	}
	return rows.Err()
}

type clickhouseDirect struct{ conn ch.Conn }

func (c clickhouseDirect) Close() error { return c.conn.Close() }

// Drain scans every value into its column's type, as a client would.
func (c clickhouseDirect) Drain(ctx context.Context, query string, _ []any) error {
	rows, err := c.conn.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	dest := make([]any, len(types))
	for i, t := range types {
		dest[i] = reflect.New(t.ScanType()).Interface()
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
	}
	return rows.Err()
}
