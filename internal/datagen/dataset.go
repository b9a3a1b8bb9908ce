package datagen

import (
	"context"
	"errors"
	"flag"
	"strconv"
	"time"

	"github.com/taskpulse/taskpulse/internal/backend"
)

// Dataset is where a generated data set lives and the time it spans,
// which ends at End: what datagen writes and querybench reads.
type Dataset struct {
	DataDir string
	Backend backend.Flags
	Days    int
	End     time.Time
}

// RegisterFlags adds --data-dir, --days, --end and the store flags.
func (d *Dataset) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&d.DataDir, "data-dir", "./data", "directory of the DuckDB store")
	fs.IntVar(&d.Days, "days", 30, "days the data spans, ending at --end")
	d.End = time.Now()
	fs.Func("end", "end of the data, unix ms or RFC 3339 (default now)", func(s string) error {
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
			d.End = time.UnixMilli(ms)
			return nil
		}
		t, err := time.Parse(time.RFC3339, s)
		d.End = t
		return err
	})
	d.Backend.RegisterStoreFlags(fs)
}

// Validate checks the span and the store flags.
func (d *Dataset) Validate() error {
	if d.Days <= 0 {
		return errors.New("--days must be positive")
	}
	return d.Backend.Validate()
}

// From is the start of the span, unix ms.
func (d *Dataset) From() int64 {
	return d.End.Add(-time.Duration(d.Days) * 24 * time.Hour).UnixMilli()
}

// Open opens the store; queryLog, when not nil, is told every read query,
// and direct also opens a connection of its own to the store's database.
func (d *Dataset) Open(ctx context.Context, queryLog func(query string, args []any), direct bool) (*backend.Backends, error) {
	return backend.Open(ctx, &d.Backend, backend.Options{DataDir: d.DataDir, Store: true, QueryLog: queryLog, Direct: direct})
}
