package duckdb

import (
	"context"
	"fmt"
	"math"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// A stream walks its range in windows of time, newest first, and pages
// through each window with the listing's keyset cursor. Paging the whole
// range with the cursor alone sorts every row older than the cursor for
// each page, which makes a long export quadratic. A window's bounds are
// plain comparisons on the timestamp, which DuckDB checks against each row
// group's minimum and maximum, so a page reads the row groups of its
// window only; rows arrive in about time order, so those are few. The
// driver materialises a whole result before handing out its first row,
// so one query without a limit would hold the whole range in memory; a
// page holds at most streamPage rows.
//
// Windows are sized from the count of the tenant's rows in the range,
// other filters aside, to hold streamPage rows on average. A window that
// holds more, a burst, is paged through; one that holds fewer costs one
// query.
const streamPage = 10_000

// The range of a stream: how many rows of the tenant lie in [since, until)
// and their first and last timestamps, from the column of each table that
// its listing orders by.
const (
	logRange  = `SELECT count(*), coalesce(min(timestamp), 0), coalesce(max(timestamp), 0) FROM logs WHERE tenant = ? AND timestamp >= ? AND timestamp < ?`
	taskRange = `SELECT count(*), coalesce(min(updated_at), 0), coalesce(max(updated_at), 0) FROM tasks WHERE tenant = ? AND updated_at >= ? AND updated_at < ?`
)

// StreamLogs calls fn with every record matching f, newest first by
// (Timestamp, EventID), a window of time at a time (see streamPage).
func (s *Store) StreamLogs(ctx context.Context, f store.LogFilter, fn func(schema.Log) error) error {
	until := upper(f.Until)
	if f.After != nil && f.After.Timestamp < until {
		until = f.After.Timestamp + 1
	}
	r, err := s.timeRange(ctx, logRange, f.Tenant, lower(f.Since), until)
	if err != nil {
		return fmt.Errorf("stream logs: %w", err)
	}
	after := f.After
	f.Limit = streamPage
	err = walk(ctx, r, fn, func(lo, hi int64, last *schema.Log) ([]schema.Log, error) {
		f.Since, f.Until, f.After = lo, hi, after
		if last != nil {
			f.After = &store.LogCursor{Timestamp: last.Timestamp, EventID: last.EventID}
		}
		return s.Logs(ctx, f)
	})
	if err != nil {
		return fmt.Errorf("stream logs: %w", err)
	}
	return nil
}

// StreamTasks calls fn with every task matching f, newest first by
// (UpdatedAt, TaskID), a window of time at a time (see streamPage).
func (s *Store) StreamTasks(ctx context.Context, f store.TaskFilter, fn func(store.Task) error) error {
	until := upper(f.UpdatedUntil)
	if f.After != nil && f.After.UpdatedAt < until {
		until = f.After.UpdatedAt + 1
	}
	r, err := s.timeRange(ctx, taskRange, f.Tenant, lower(f.UpdatedSince), until)
	if err != nil {
		return fmt.Errorf("stream tasks: %w", err)
	}
	after := f.After
	f.Limit = streamPage
	err = walk(ctx, r, fn, func(lo, hi int64, last *store.Task) ([]store.Task, error) {
		f.UpdatedSince, f.UpdatedUntil, f.After = lo, hi, after
		if last != nil {
			f.After = &store.TaskCursor{UpdatedAt: last.UpdatedAt, TaskID: last.TaskID}
		}
		return s.Tasks(ctx, f)
	})
	if err != nil {
		return fmt.Errorf("stream tasks: %w", err)
	}
	return nil
}

// lower and upper turn an unset bound of a filter into the widest one.
func lower(since int64) int64 {
	if since == 0 {
		return math.MinInt64
	}
	return since
}

func upper(until int64) int64 {
	if until == 0 {
		return math.MaxInt64
	}
	return until
}

// each calls fn with every row while ctx lasts, so that an export whose
// client went away stops within the row, not the page.
func each[T any](ctx context.Context, rows []T, fn func(T) error) error {
	for _, row := range rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}

// timeRange is the stored rows of a stream's range: how many there are
// and their first and last timestamps.
type timeRange struct {
	rows        int64
	first, last int64
}

func (s *Store) timeRange(ctx context.Context, query, tenant string, since, until int64) (timeRange, error) {
	var r timeRange
	if err := s.queryRow(ctx, query, tenant, since, until).Scan(&r.rows, &r.first, &r.last); err != nil {
		return r, fmt.Errorf("read range: %w", err)
	}
	return r, nil
}

// walk calls fn with every row of r's windows, newest window first, while
// ctx lasts. page
// reads streamPage rows at most of the window [lo, hi), after last when it
// is set; a short page ends the window.
func walk[T any](ctx context.Context, r timeRange, fn func(T) error, page func(lo, hi int64, last *T) ([]T, error)) error {
	if r.rows == 0 {
		return nil
	}
	// Windows hold streamPage rows on average; the product is taken in
	// floating point, since the span of a tenant's rows times the page
	// can pass the range of int64 when timestamps are far apart.
	span := int64(max(1, float64(r.last-r.first+1)*streamPage/float64(r.rows)))
	for hi := r.last + 1; hi > r.first; {
		lo := r.first
		if hi-r.first > span {
			lo = hi - span
		}
		var last *T
		for {
			rows, err := page(lo, hi, last)
			if err := ctx.Err(); err != nil {
				// DuckDB reports a read cut short by ctx as its own
				// interrupt error.
				return err
			}
			if err != nil {
				return err
			}
			if err := each(ctx, rows, fn); err != nil {
				return err
			}
			if len(rows) < streamPage {
				break
			}
			last = &rows[len(rows)-1]
		}
		hi = lo
	}
	return nil
}
