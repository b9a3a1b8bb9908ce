package query

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// topFailing is how many task types the overview names as failing most.
const topFailing = 5

// statsParams choose the overview's range and buckets.
var statsParams = []string{"from", "to", "step"}

// overview is the answer of /v1/stats/overview: the store's statistics
// with every bucket present (zero when nothing happened in it) and the
// figures a dashboard headline needs.
type overview struct {
	From        int64                   `json:"from"`
	To          int64                   `json:"to"`
	Step        int64                   `json:"step"`
	ByStatus    map[schema.Status]int64 `json:"by_status"`
	Intervals   []store.IntervalCounts  `json:"intervals"`
	Types       []store.TypeStats       `json:"types"`
	ErrorLogs   []store.Point           `json:"error_logs"`
	Finished    int64                   `json:"finished"`
	Failed      int64                   `json:"failed"`
	FailureRate float64                 `json:"failure_rate"`
	TopFailing  []store.TypeStats       `json:"top_failing"`
}

func (p *params) statsWindow(now int64) (window, error) {
	return p.window(now, 24*time.Hour, targetBuckets)
}

func (s *Service) loadOverview(ctx context.Context, tenant string, w window) (overview, error) {
	st, err := s.store.Stats(ctx, store.StatsQuery{Tenant: tenant, From: w.From, To: w.To, Step: w.Step})
	if err != nil {
		return overview{}, err
	}
	o := overview{
		From: w.From, To: w.To, Step: w.Step,
		ByStatus:   st.ByStatus,
		Intervals:  make([]store.IntervalCounts, w.buckets()),
		Types:      st.Types,
		ErrorLogs:  make([]store.Point, w.buckets()),
		TopFailing: []store.TypeStats{},
	}
	if o.ByStatus == nil {
		o.ByStatus = map[schema.Status]int64{}
	}
	if o.Types == nil {
		o.Types = []store.TypeStats{}
	}
	for i, t := range w.times() {
		o.Intervals[i].T, o.ErrorLogs[i].T = t, t
	}
	for _, ic := range st.Intervals {
		if i, ok := w.index(ic.T); ok {
			o.Intervals[i] = ic
		}
	}
	for _, pt := range st.ErrorLogs {
		if i, ok := w.index(pt.T); ok {
			o.ErrorLogs[i] = pt
		}
	}
	for _, ts := range o.Types {
		o.Finished += ts.Finished
		o.Failed += ts.Failed
		if ts.Failed > 0 {
			o.TopFailing = append(o.TopFailing, ts)
		}
	}
	if o.Finished > 0 {
		o.FailureRate = float64(o.Failed) / float64(o.Finished)
	}
	slices.SortStableFunc(o.TopFailing, func(a, b store.TypeStats) int {
		return cmp.Or(cmp.Compare(b.Failed, a.Failed), cmp.Compare(b.FailureRate, a.FailureRate), cmp.Compare(a.TaskType, b.TaskType))
	})
	o.TopFailing = o.TopFailing[:min(len(o.TopFailing), topFailing)]
	return o, nil
}

func (s *Service) statsOverview(c *fiber.Ctx) error {
	p, err := newParams(c, statsParams...)
	if err != nil {
		return err
	}
	w, err := p.statsWindow(s.now().UnixMilli())
	if err != nil {
		return err
	}
	o, err := s.loadOverview(c.UserContext(), auth.Tenant(c), w)
	if err != nil {
		return s.storeError(err)
	}
	return c.JSON(o)
}
