package query

import (
	"context"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Store is every part of the store the query API uses; a store.Store is
// one. Each part is also an interface of its own, so a test can stand in
// for one part.
type Store interface {
	Reader
	LogReader
	SeriesReader
	StatsReader
	DashboardKeeper
}

// Reader is the part of a store.TaskStore the query API needs.
type Reader interface {
	Tasks(ctx context.Context, f store.TaskFilter) ([]store.Task, error)
	Task(ctx context.Context, tenant, taskID string) (store.Task, error)
	TaskEvents(ctx context.Context, tenant, taskID string, f store.EventFilter) ([]schema.Progress, error)
}

// LogReader is the part of a store.LogStore the query API needs.
type LogReader interface {
	Logs(ctx context.Context, f store.LogFilter) ([]schema.Log, error)
}

// SeriesReader is the part of a store.MetricStore the query API needs.
type SeriesReader interface {
	MetricSeries(ctx context.Context, q store.SeriesQuery) ([]store.Series, error)
	TaskMetrics(ctx context.Context, tenant, taskID string, limit int) ([]store.TaskMetric, error)
}

// StatsReader is a store.StatsStore.
type StatsReader interface {
	Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error)
}

// DashboardKeeper is a store.DashboardStore.
type DashboardKeeper interface {
	CreateDashboard(ctx context.Context, d store.Dashboard) (store.Dashboard, error)
	Dashboard(ctx context.Context, tenant, id string) (store.Dashboard, error)
	Dashboards(ctx context.Context, tenant string) ([]store.Dashboard, error)
	UpdateDashboard(ctx context.Context, d store.Dashboard, ifVersion int64) (store.Dashboard, error)
	DeleteDashboard(ctx context.Context, tenant, id string, ifVersion int64) error
}
