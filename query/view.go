package query

import (
	"math"

	"github.com/taskpulse/taskpulse/internal/store"
)

// TaskView is a task's current state with the figures derived from it.
type TaskView struct {
	store.Task
	// DurationMs runs from StartedAt (else CreatedAt) to the terminal
	// event, or to now while the task runs.
	DurationMs int64 `json:"duration_ms"`
	// ProgressRate is in percent per second, from the start to the latest
	// progress report; absent before there is one.
	ProgressRate *float64 `json:"progress_rate,omitempty"`
	// ETASource says where ETA came from: "client" or "estimated".
	ETASource string `json:"eta_source,omitempty"`
}

func view(t store.Task, now int64) TaskView {
	v := TaskView{Task: t}
	start := t.CreatedAt
	if t.StartedAt != nil {
		start = *t.StartedAt
	}
	end := now
	if t.Status.Terminal() {
		end = t.UpdatedAt
	}
	v.DurationMs = max(0, end-start)

	if elapsed := t.ProgressAt - start; t.ProgressAt > 0 && elapsed > 0 && t.Progress > 0 {
		rate := t.Progress / (float64(elapsed) / 1000)
		v.ProgressRate = &rate
	}
	switch {
	case t.ETA != nil:
		v.ETASource = "client"
	case !t.Status.Terminal() && v.ProgressRate != nil && t.Progress < 100:
		eta := int64(math.Ceil((100 - t.Progress) / *v.ProgressRate))
		v.ETA = &eta
		v.ETASource = "estimated"
	}
	return v
}
