package query

import (
	"context"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// LogReader is the part of a store.LogStore the query API needs.
type LogReader interface {
	Logs(ctx context.Context, f store.LogFilter) ([]schema.Log, error)
}

// SeriesReader is the part of a store.MetricStore the query API needs.
type SeriesReader interface {
	MetricSeries(ctx context.Context, q store.SeriesQuery) ([]store.Series, error)
}

// StatsReader is a store.StatsStore.
type StatsReader interface {
	Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error)
}

// DashboardKeeper is a store.DashboardStore.
type DashboardKeeper interface {
	PutDashboard(ctx context.Context, d store.Dashboard) error
	Dashboard(ctx context.Context, tenant, id string) (store.Dashboard, error)
	Dashboards(ctx context.Context, tenant string) ([]store.Dashboard, error)
	DeleteDashboard(ctx context.Context, tenant, id string) error
}
