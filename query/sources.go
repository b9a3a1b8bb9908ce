package query

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// The sources a chart draws from.
const (
	sourceMetric        = "metric"
	sourceTaskActivity  = "task_activity"
	sourceTasksByStatus = "tasks_by_status"
	sourceTaskDurations = "task_durations"
)

// loader reads a source's data: timeData, categoryData or durationData.
type loader func(ctx context.Context) (any, error)

// source is where a chart's data comes from: the parameters it takes, the
// kinds of chart its data can be drawn as, and how to read it.
type source struct {
	params []string
	kinds  []string
	// prepare checks the parameters and returns the read, so that saved
	// panels can be checked without reading anything.
	prepare func(s *Service, p *params, tenant string, now int64) (loader, error)
}

var sources = map[string]source{
	sourceMetric: {
		params:  seriesParams,
		kinds:   []string{chartLine, chartArea, chartBar, chartGauge, chartTable},
		prepare: prepareMetric,
	},
	sourceTaskActivity: {
		params:  statsParams,
		kinds:   []string{chartLine, chartArea, chartBar, chartTable},
		prepare: prepareActivity,
	},
	sourceTasksByStatus: {
		params:  []string{"from", "to"},
		kinds:   []string{chartPie, chartBar, chartTable},
		prepare: prepareByStatus,
	},
	sourceTaskDurations: {
		params:  durationParams,
		kinds:   []string{chartScatter, chartHeatmap, chartTable},
		prepare: prepareDurations,
	},
}

// prepareMetric draws a metric's series, one per group.
func prepareMetric(s *Service, p *params, tenant string, now int64) (loader, error) {
	r, err := p.seriesRequest(tenant, now)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (any, error) {
		series, err := s.loadSeries(ctx, r)
		if err != nil {
			return nil, err
		}
		d := timeData{Times: r.Window.times(), Series: make([]frameSeries, len(series))}
		for i, fs := range series {
			d.Series[i] = frameSeries{Name: seriesName(r.Query.Name, fs.Labels), Labels: fs.Labels, Values: fs.Values}
		}
		return d, nil
	}, nil
}

// prepareActivity draws tasks started, completed and failed, and error
// logs, per bucket.
func prepareActivity(s *Service, p *params, tenant string, now int64) (loader, error) {
	w, err := p.statsWindow(now)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (any, error) {
		o, err := s.loadOverview(ctx, tenant, w)
		if err != nil {
			return nil, err
		}
		counts := map[string][]*float64{}
		names := []string{"started", "completed", "failed", "error_logs"}
		for _, n := range names {
			counts[n] = make([]*float64, len(o.Intervals))
		}
		for i, ic := range o.Intervals {
			counts["started"][i] = num(ic.Started)
			counts["completed"][i] = num(ic.Completed)
			counts["failed"][i] = num(ic.Failed)
			counts["error_logs"][i] = &o.ErrorLogs[i].V
		}
		d := timeData{Times: w.times()}
		for _, n := range names {
			d.Series = append(d.Series, frameSeries{Name: n, Labels: map[string]string{}, Values: counts[n]})
		}
		return d, nil
	}, nil
}

// prepareByStatus counts tasks updated in range by current status, every
// status present, in a fixed order so that colours stay put.
func prepareByStatus(s *Service, p *params, tenant string, now int64) (loader, error) {
	from, to, err := p.timeRange(now, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (any, error) {
		st, err := s.store.Stats(ctx, store.StatsQuery{Tenant: tenant, From: from, To: to, Step: to - from})
		if err != nil {
			return nil, err
		}
		d := categoryData{Name: "tasks"}
		for _, status := range schema.Statuses {
			d.Labels = append(d.Labels, string(status))
			d.Values = append(d.Values, float64(st.ByStatus[status]))
		}
		return d, nil
	}, nil
}

func prepareDurations(s *Service, p *params, tenant string, now int64) (loader, error) {
	f, w, err := p.durationQuery(tenant, now)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (any, error) {
		return s.loadDurations(ctx, f, w)
	}, nil
}

func num(n int64) *float64 {
	v := float64(n)
	return &v
}

// seriesName names a series as Prometheus prints it: name{a="x",b="y"}.
func seriesName(metric string, labels map[string]string) string {
	if len(labels) == 0 {
		return metric
	}
	parts := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+strconv.Quote(labels[k]))
	}
	return metric + "{" + strings.Join(parts, ",") + "}"
}
