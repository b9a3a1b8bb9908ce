package query

import (
	"context"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// seriesParams select and aggregate a metric.
var seriesParams = []string{"name", "match", "task_id", "from", "to", "step", "agg", "group_by"}

// aggRate is computed here from the store's last value per bucket.
const aggRate = "rate"

var seriesAggs = map[string]store.Aggregation{
	"avg": store.AggAvg, "min": store.AggMin, "max": store.AggMax, "sum": store.AggSum,
	"count": store.AggCount, "last": store.AggLast, aggRate: store.AggLast,
	"p50": store.AggP50, "p90": store.AggP90, "p95": store.AggP95, "p99": store.AggP99,
}

// seriesRequest is a checked series query: the store query runs over Window
// (one bucket earlier for a rate), and Agg is what the client asked for.
type seriesRequest struct {
	Query  store.SeriesQuery
	Window window
	Agg    string
}

// filledSeries has a value or nil for every bucket of its window, so that
// charts draw gaps where there were no samples.
type filledSeries struct {
	Labels map[string]string
	Values []*float64
}

func (p *params) seriesRequest(tenant string, now int64) (seriesRequest, error) {
	var r seriesRequest
	name, err := p.Str("name")
	if err != nil {
		return r, err
	}
	if name == "" {
		return r, httpx.BadParameter("name", "is required")
	}
	matchers, err := p.matchers("match")
	if err != nil {
		return r, err
	}
	if r.Window, err = p.window(now, time.Hour, targetBuckets); err != nil {
		return r, err
	}
	if r.Agg, err = p.Str("agg"); err != nil {
		return r, err
	}
	if r.Agg == "" {
		r.Agg = string(store.AggAvg)
	}
	agg, ok := seriesAggs[r.Agg]
	if !ok {
		return r, httpx.BadParameter("agg", "must be one of avg, min, max, sum, count, last, rate, p50, p90, p95, p99")
	}
	groupBy, err := p.groupBy()
	if err != nil {
		return r, err
	}
	// task_id is checked by ingest's rule (paramRules).
	taskID, err := p.Str("task_id")
	if err != nil {
		return r, err
	}
	r.Query = store.SeriesQuery{
		Tenant: tenant, Name: name, Matchers: matchers, TaskID: taskID, Agg: agg, GroupBy: groupBy,
		From: r.Window.From, To: r.Window.To, Step: r.Window.Step,
	}
	if r.Agg == aggRate {
		// The first bucket's rate needs the bucket before it.
		r.Query.From -= r.Window.Step
	}
	return r, nil
}

// groupBy reads the labels that split a series. A sample has at most
// schema.MaxAttributes labels, so more names than that cannot split it
// further.
func (p *params) groupBy() ([]string, error) {
	labels, err := p.List("group_by")
	if err != nil {
		return nil, err
	}
	if len(labels) > schema.MaxAttributes {
		return nil, httpx.BadParameter("group_by", "must name at most "+strconv.Itoa(schema.MaxAttributes)+" labels")
	}
	for _, l := range labels {
		if len(l) > schema.MaxAttrKeyLen {
			return nil, httpx.BadParameter("group_by", "must name labels of at most "+strconv.Itoa(schema.MaxAttrKeyLen)+" bytes")
		}
	}
	return labels, nil
}

func (s *Service) loadSeries(ctx context.Context, r seriesRequest) ([]filledSeries, error) {
	got, err := s.store.MetricSeries(ctx, r.Query)
	if err != nil {
		return nil, err
	}
	out := make([]filledSeries, len(got))
	for i, g := range got {
		out[i].Labels = g.Labels
		if out[i].Labels == nil {
			out[i].Labels = map[string]string{}
		}
		if r.Agg == aggRate {
			out[i].Values = rate(g.Points, r.Window)
		} else {
			out[i].Values = fill(g.Points, r.Window)
		}
	}
	return out, nil
}

// fill places points in their buckets, leaving empty ones nil.
func fill(points []store.Point, w window) []*float64 {
	out := make([]*float64, w.buckets())
	for _, pt := range points {
		if i, ok := w.index(pt.T); ok {
			out[i] = &pt.V
		}
	}
	return out
}

// rate turns a counter's last value per bucket into its increase per
// second since the previous bucket that had a value. A value below the
// previous one means the counter restarted from zero, so all of it is the
// increase. A bucket without a value, or with none before it, has no rate.
func rate(points []store.Point, w window) []*float64 {
	out := make([]*float64, w.buckets())
	for k := 1; k < len(points); k++ {
		prev, cur := points[k-1], points[k]
		i, ok := w.index(cur.T)
		if !ok || cur.T <= prev.T {
			continue
		}
		increase := cur.V - prev.V
		if increase < 0 {
			increase = cur.V
		}
		r := increase / (float64(cur.T-prev.T) / 1000)
		out[i] = &r
	}
	return out
}

// index is the bucket holding t, if the window has it.
func (w window) index(t int64) (int, bool) {
	if t < w.From || t >= w.To {
		return 0, false
	}
	return int((t - w.From) / w.Step), true
}

// seriesPoint is a bucket in the series answer; V is null when empty.
type seriesPoint struct {
	T int64    `json:"t"`
	V *float64 `json:"v"`
}

type seriesView struct {
	Labels map[string]string `json:"labels"`
	Points []seriesPoint     `json:"points"`
}

func (s *Service) metricSeries(c *fiber.Ctx) error {
	p, err := newParams(c, seriesParams...)
	if err != nil {
		return err
	}
	r, err := p.seriesRequest(auth.Tenant(c), s.now().UnixMilli())
	if err != nil {
		return err
	}
	series, err := s.loadSeries(c.UserContext(), r)
	if err != nil {
		return s.storeError(err)
	}
	times := r.Window.times()
	views := make([]seriesView, len(series))
	for i, fs := range series {
		views[i] = seriesView{Labels: fs.Labels, Points: make([]seriesPoint, len(times))}
		for j, t := range times {
			views[i].Points[j] = seriesPoint{T: t, V: fs.Values[j]}
		}
	}
	return c.JSON(fiber.Map{
		"name": r.Query.Name, "agg": r.Agg,
		"from": r.Window.From, "to": r.Window.To, "step": r.Window.Step,
		"series": views,
	})
}

// taskMetrics lists the metrics a task reported with its task_id. Like
// its logs, an unknown task simply has none, as samples may arrive before
// the task's first progress event.
func (s *Service) taskMetrics(c *fiber.Ctx) error {
	p, err := newParams(c, "limit")
	if err != nil {
		return err
	}
	id, err := pathID(c)
	if err != nil {
		return err
	}
	limit, err := p.Limit()
	if err != nil {
		return err
	}
	metrics, err := s.store.TaskMetrics(c.UserContext(), auth.Tenant(c), id, limit)
	if err != nil {
		return s.storeError(err)
	}
	if metrics == nil {
		metrics = []store.TaskMetric{} // an array, as the document says, even when empty
	}
	return c.JSON(fiber.Map{"metrics": metrics})
}
