package clickhouse

import (
	"context"
	"fmt"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// A stream pages through its listing with the keyset cursor, streamPage
// rows a page. Both listings read windows of time from an index ordered by
// time (log_times and log_tasks for logs, task_updates for tasks) that
// end at the cursor, so a page costs about its own rows however far the
// stream has come, where a query that sorts the whole range would hold
// it all in the server's memory before the first row. A page is as large
// as it is to keep the rounds of queries per page few.
const streamPage = 10_000

// StreamLogs calls fn with every record matching f, newest first by
// (Timestamp, EventID), a page at a time.
func (s *Store) StreamLogs(ctx context.Context, f store.LogFilter, fn func(schema.Log) error) error {
	f.Limit = streamPage
	err := pages(ctx, fn, func(last *schema.Log) ([]schema.Log, error) {
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
// (UpdatedAt, TaskID), a page at a time.
func (s *Store) StreamTasks(ctx context.Context, f store.TaskFilter, fn func(store.Task) error) error {
	f.Limit = streamPage
	err := pages(ctx, fn, func(last *store.Task) ([]store.Task, error) {
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

// pages calls fn with every row of the pages page reads, each after the
// last row of the one before (nil for the first), until a short page or
// the end of ctx, which stops it within the page.
func pages[T any](ctx context.Context, fn func(T) error, page func(last *T) ([]T, error)) error {
	var last *T
	for {
		rows, err := page(last)
		if err != nil {
			return err
		}
		for _, row := range rows {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(row); err != nil {
				return err
			}
		}
		if len(rows) < streamPage {
			return nil
		}
		last = &rows[len(rows)-1]
	}
}
