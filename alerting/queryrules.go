package alerting

import (
	"context"
	"fmt"
	"maps"
	"math"
	"strconv"
	"time"

	"github.com/taskpulse/taskpulse/internal/store"
)

// evalQueryRule evaluates a metric or log rule for the slot ending at
// slot (unix ms, a multiple of the rule's interval): every process that
// evaluates the same slot sees the same window and times its transitions
// the same way.
func (e *evaluator) evalQueryRule(ctx context.Context, r *compiledRule, slot int64) error {
	start := time.Now()
	defer e.metrics.observe(r.Kind, start)
	var obs map[string]observation
	var err error
	switch r.Kind {
	case KindMetricThreshold:
		obs, err = e.observeMetric(ctx, r, slot)
	case KindErrorLogRate:
		obs, err = e.observeLogs(ctx, r, slot)
	default:
		panic("BUG: evalQueryRule on a " + string(r.Kind) + " rule")
	}
	if err != nil {
		return err
	}
	e.apply(ctx, r, obs, slot, true)
	return nil
}

func (e *evaluator) observeMetric(ctx context.Context, r *compiledRule, slot int64) (map[string]observation, error) {
	window := r.Params.Window.D().Milliseconds()
	series, err := e.series.MetricSeries(ctx, store.SeriesQuery{
		Tenant: r.Tenant, Name: r.Params.Metric, Matchers: r.Matchers,
		From: slot - window, To: slot, Step: window, Agg: r.Params.Agg, GroupBy: r.Params.GroupBy,
	})
	if err != nil {
		return nil, fmt.Errorf("rule %s: read metric %s: %w", r.ID, r.Params.Metric, err)
	}
	obs := map[string]observation{}
	for _, sr := range series {
		if len(sr.Points) == 0 {
			continue
		}
		v := sr.Points[len(sr.Points)-1].V
		group := labelKey(sr.Labels)
		labels := ruleLabels(r)
		maps.Copy(labels, sr.Labels)
		o := e.threshold(r, group, v, slot)
		o.labels = labels
		o.summary = fmt.Sprintf("%s(%s) over %s is %s (threshold %s %s)", r.Params.Agg, r.Params.Metric, r.Params.Window,
			fmtFloat(v), r.Params.Op, fmtFloat(*r.Params.Threshold))
		if group != "" {
			o.summary += " for " + group
		}
		obs[group] = o
	}
	return obs, nil
}

func (e *evaluator) observeLogs(ctx context.Context, r *compiledRule, slot int64) (map[string]observation, error) {
	window := r.Params.Window.D().Milliseconds()
	// Counting needs no more records than it takes to pass the threshold
	// (and, while firing, the recovery level, which is lower).
	limit := int(math.Ceil(*r.Params.Threshold)) + 2
	logs, err := e.logs.Logs(ctx, store.LogFilter{
		Tenant: r.Tenant, MinLevel: r.Params.MinLevel, Source: r.Params.Source, Attributes: r.Matchers,
		Since: slot - window, Until: slot, Limit: max(limit, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("rule %s: read logs: %w", r.ID, err)
	}
	v := float64(len(logs))
	o := e.threshold(r, "", v, slot)
	o.labels = ruleLabels(r)
	o.summary = fmt.Sprintf("%s %s or worse logs in %s (threshold %s %s)", fmtFloat(v), r.Params.MinLevel, r.Params.Window,
		r.Params.Op, fmtFloat(*r.Params.Threshold))
	return map[string]observation{"": o}, nil
}

// threshold compares v with the rule's threshold, or, for an alert that is
// firing, with its recovery level: hysteresis keeps a value that hovers
// at the limit from flapping.
func (e *evaluator) threshold(r *compiledRule, group string, v float64, slot int64) observation {
	limit := *r.Params.Threshold
	if r.Params.Recovery != nil && e.alertState(alertKey{r.Tenant, r.ID, group}) == StateFiring {
		limit = *r.Params.Recovery
	}
	return observation{active: r.Params.Op.holds(v, limit), at: slot, value: &v}
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// runQueryRule evaluates r at the end of every slot of its interval until
// ctx ends. A failed evaluation is logged and the next slot tried.
func (e *evaluator) runQueryRule(ctx context.Context, r *compiledRule) {
	every := r.Interval.D()
	for {
		now := e.now()
		next := now.Truncate(every).Add(every)
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := e.evalQueryRule(ctx, r, next.UnixMilli()); err != nil && ctx.Err() == nil {
			e.metrics.failures.WithLabelValues(string(r.Kind)).Inc()
			e.log.Error("rule evaluation failed", "rule", r.ID, "tenant", r.Tenant, "err", err)
		}
	}
}
