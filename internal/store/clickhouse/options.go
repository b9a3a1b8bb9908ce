package clickhouse

import (
	"context"
	"io"
	"log/slog"
)

// Option changes how Open and Migrate behave.
type Option func(*options)

type options struct {
	logger   *slog.Logger
	queryLog func(query string)
}

func buildOptions(opts []Option) options {
	o := options{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithLogger sets where the store logs what migrations did. Without it the
// store logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l.With("component", "store/clickhouse") }
}

// WithQueryLog makes the store call f with every SQL statement it sends to
// the server (DDL, inserts and queries), exactly as sent: with the query
// arguments already bound, since clickhouse-go binds them on the client.
// It exists to check the generated SQL against other ClickHouse versions.
// f may be called from several goroutines at once.
func WithQueryLog(f func(query string)) Option {
	return func(o *options) { o.queryLog = f }
}

// queryLogHandler receives clickhouse-go's debug log and passes on the text
// of each query the driver sends. The driver logs "sending query" with the
// final statement right before writing it to the connection, which is the
// only place the statement with its arguments bound can be seen.
type queryLogHandler struct{ f func(string) }

// sendingQuery is the message clickhouse-go logs before sending a query.
// TestQueryLog fails if a driver upgrade renames it.
const sendingQuery = "sending query"

func (h queryLogHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h queryLogHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message != sendingQuery {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "query" {
			h.f(a.Value.String())
			return false
		}
		return true
	})
	return nil
}

func (h queryLogHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h queryLogHandler) WithGroup(string) slog.Handler      { return h }
