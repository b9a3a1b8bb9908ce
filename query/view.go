package query

import (
	"github.com/taskpulse/taskpulse/eta"
	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/internal/store"
)

// TaskView is a task's current state with the figures derived from it.
// Its ETA is not the stored one but the estimate, in seconds left at the
// time of the read (see package eta).
type TaskView struct {
	store.Task
	// DurationMs runs from StartedAt (else CreatedAt) to the terminal
	// event, or to now while the task runs.
	DurationMs int64 `json:"duration_ms"`
	// ProgressRate is in percent per second, from the start to the latest
	// progress report; absent before there is one.
	ProgressRate *float64 `json:"progress_rate,omitempty"`
	// ETAOverdue says the estimated time has run out: the task is late,
	// and ETA is absent.
	ETAOverdue bool `json:"eta_overdue,omitempty"`
	// ETAP50 and ETAP90 are the history's band of the seconds left.
	ETAP50 *int64 `json:"eta_p50,omitempty"`
	ETAP90 *int64 `json:"eta_p90,omitempty"`
	// ETASource says where ETA came from: "history", "client" or "rate".
	ETASource eta.Source `json:"eta_source,omitempty"`
	// Control is the task's latest control request; absent without one.
	Control *control.View `json:"control,omitempty"`
}

// view renders t at now, its ETA from the client or the rate only. The
// task routes render with history (Service.taskView).
func view(t store.Task, now int64) TaskView {
	return viewWith(t, now, nil)
}

// taskView renders a task of tenant at now, its ETA from the service's
// tracker, with its control request.
func (s *Service) taskView(tenant string, t store.Task, now int64) TaskView {
	t.Tenant = tenant
	v := viewWith(t, now, s.eta)
	v.Control = s.control.View(tenant, t.TaskID, now)
	return v
}

func viewWith(t store.Task, now int64, tracker *eta.Tracker) TaskView {
	v := TaskView{Task: t}
	task := eta.TaskOf(&t)
	end := now
	if t.Status.Terminal() {
		end = t.UpdatedAt
	}
	v.DurationMs = max(0, end-task.Start)

	if elapsed := t.ProgressAt - task.Start; t.ProgressAt > 0 && elapsed > 0 && t.Progress > 0 {
		rate := t.Progress / (float64(elapsed) / 1000)
		v.ProgressRate = &rate
	}
	e := tracker.Estimate(task, now)
	v.ETA, v.ETAOverdue, v.ETAP50, v.ETAP90, v.ETASource = e.ETA, e.Overdue, e.P50, e.P90, e.Source
	return v
}
