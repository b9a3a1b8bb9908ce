package alerting

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/schema"
)

// ruleLabels are the labels every alert of r carries, for silences.
func ruleLabels(r *compiledRule) map[string]string {
	return map[string]string{"rule": r.ID, "rule_name": r.Name, "kind": string(r.Kind), "severity": string(r.Severity)}
}

// controlOf returns a task's control request; none when alerting runs
// without a registry.
type controlOf func(tenant, taskID string) (control.Request, bool)

// observeTask evaluates a task rule on one task at time now. It reports
// false when the rule does not apply to the task.
func observeTask(r *compiledRule, ts *taskState, now int64, ctl controlOf) (observation, bool) {
	if ts.tenant != r.Tenant || r.TaskType != "" && ts.taskType != r.TaskType {
		return observation{}, false
	}
	tl := ts.labels()
	if !matchAll(r.matchers, tl) {
		return observation{}, false
	}
	labels := ruleLabels(r)
	maps.Copy(labels, tl)
	o := observation{at: ts.updatedAt, labels: labels, taskID: ts.id, userID: ts.userID}
	name := taskTitle(ts)
	switch r.Kind {
	case KindTaskFailed:
		if ts.status == schema.StatusFailed {
			o.active = true
			o.summary = name + " failed"
			if ts.errMsg != "" {
				o.summary += ": " + ts.errMsg
			}
		}
	case KindTaskStalled:
		limit := r.Params.StalledAfter.D().Milliseconds()
		if ts.status == schema.StatusRunning && now-ts.updatedAt >= limit {
			// The stall began when the limit passed; an update ends it.
			o.active, o.at = true, ts.updatedAt+limit
			o.summary = fmt.Sprintf("%s has had no update for %s (last at %s)", name, r.Params.StalledAfter, fmtTime(ts.updatedAt))
		}
	case KindTaskSlow:
		o.active, o.at, o.summary = slow(r, ts, name, now)
		if !o.active {
			o.at = ts.updatedAt
		}
	case KindControlUnacknowledged:
		// An acknowledgement, or the end of the task, resolves it.
		if req, ok := ctl(ts.tenant, ts.id); ok && req.Overdue(now) && !ts.status.Terminal() {
			o.active, o.at = true, req.AckDeadline
			o.summary = fmt.Sprintf("%s has not acknowledged the %s %s asked for at %s (deadline %s)",
				name, req.Action, req.RequestedBy, fmtTime(req.RequestedAt), fmtTime(req.AckDeadline))
		}
	default:
		panic("BUG: observeTask on a " + string(r.Kind) + " rule")
	}
	return o, true
}

// slow checks a running task against the rule's duration limit and
// progress-rate floor.
func slow(r *compiledRule, ts *taskState, name string, now int64) (bool, int64, string) {
	if ts.status != schema.StatusRunning || ts.startedAt == 0 {
		return false, 0, ""
	}
	ran := now - ts.startedAt
	if limit := r.Params.MaxDuration.D().Milliseconds(); limit > 0 && ran >= limit {
		return true, ts.startedAt + limit, fmt.Sprintf("%s has run for more than %s", name, r.Params.MaxDuration)
	}
	if r.Params.MinRate == nil {
		return false, 0, ""
	}
	grace := r.Params.RateAfter.D().Milliseconds()
	if ran < grace {
		return false, 0, ""
	}
	rate := ts.progress / (float64(ran) / float64(time.Minute.Milliseconds()))
	if rate >= *r.Params.MinRate {
		return false, 0, ""
	}
	// Progress moves only with updates, so the latest one (or the end of
	// the grace period) dates the slowdown the same way for everyone.
	at := max(ts.startedAt+grace, ts.updatedAt)
	return true, at, fmt.Sprintf("%s progresses at %.2f%%/min, under the floor of %.2f%%/min (%.1f%% after %s)",
		name, rate, *r.Params.MinRate, ts.progress, time.Duration(ran)*time.Millisecond)
}

// controlOf is the task's control request, from the process's registry.
func (e *evaluator) controlOf(tenant, taskID string) (control.Request, bool) {
	if e.control == nil {
		return control.Request{}, false
	}
	return e.control.Get(tenant, taskID)
}

func taskTitle(ts *taskState) string {
	s := "task " + ts.id
	if ts.taskName != "" {
		s = "task " + ts.taskName + " (" + ts.id + ")"
	}
	if ts.taskType != "" {
		s += " of type " + ts.taskType
	}
	return s
}

func fmtTime(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

// evalTaskEvent evaluates the task rules of one task right after an event
// changed it, so failures are told within moments.
func (e *evaluator) evalTaskEvent(ctx context.Context, ts *taskState) {
	now := e.now().UnixMilli()
	for _, r := range e.rules.all() {
		if !r.Kind.task() || r.Tenant != ts.tenant {
			continue
		}
		o, ok := observeTask(r, ts, now, e.controlOf)
		if !ok {
			continue
		}
		start := time.Now()
		e.apply(ctx, r, map[string]observation{ts.id: o}, now, false)
		e.metrics.observe(r.Kind, start)
	}
}

// checkTasks evaluates every task rule over every task known, for what no
// event announces: a stall, a slow run, a failure seen only in the store.
func (e *evaluator) checkTasks(ctx context.Context) {
	now := e.now().UnixMilli()
	horizon := now - e.cfg.TaskRetention.Milliseconds()
	snapshots := map[string][]taskState{}
	for _, r := range e.rules.all() {
		if !r.Kind.task() {
			continue
		}
		tasks, ok := snapshots[r.Tenant]
		if !ok {
			tasks = e.tracker.snapshot(r.Tenant, horizon)
			snapshots[r.Tenant] = tasks
		}
		start := time.Now()
		obs := map[string]observation{}
		for i := range tasks {
			if o, ok := observeTask(r, &tasks[i], now, e.controlOf); ok {
				obs[tasks[i].id] = o
			}
		}
		e.apply(ctx, r, obs, now, true)
		e.metrics.observe(r.Kind, start)
	}
	e.sweep(ctx, e.rules.live, now-e.cfg.ResolvedRetention.Milliseconds())
}
