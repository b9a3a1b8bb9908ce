package alerting

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Bus is the part of the bus alerting uses: it follows progress events,
// publishes notifications and delivers them in a consumer group.
type Bus interface {
	Publish(ctx context.Context, recs ...bus.Record) error
	Consume(ctx context.Context, group string, topics []string, opts bus.ConsumeOptions, h bus.Handler) error
	Subscribe(ctx context.Context, topics []string, h bus.Handler) error
}

// TaskReader reads the current state of tasks, to know the running ones
// at start.
type TaskReader interface {
	Tasks(ctx context.Context, f store.TaskFilter) ([]store.Task, error)
}

// SeriesReader aggregates metric samples (store.MetricStore).
type SeriesReader interface {
	MetricSeries(ctx context.Context, q store.SeriesQuery) ([]store.Series, error)
}

// LogReader lists log records (store.LogStore).
type LogReader interface {
	Logs(ctx context.Context, f store.LogFilter) ([]schema.Log, error)
}

// Deps are what alerting talks to. Bus, Documents and Tasks are required;
// without Series or Logs, rules of the kinds that need them are refused.
type Deps struct {
	Bus        Bus
	Documents  store.DocumentStore
	Tasks      TaskReader
	Series     SeriesReader
	Logs       LogReader
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Control holds the tasks' control requests, which
	// control_unacknowledged rules watch; none: they never fire.
	Control *control.Registry
}
