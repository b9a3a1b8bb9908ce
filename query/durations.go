package query

import (
	"context"
	"time"

	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

const (
	// maxDurationTasks caps the tasks a duration chart reads: past it a
	// scatter stops being readable and the frame says it is truncated.
	maxDurationTasks = 10_000
	// storePage is how many items one store read asks for when a handler
	// walks a listing to its end.
	storePage = 1000
	// heatmapBuckets is the time buckets a heatmap aims for when no step
	// is given; fewer than a line's, so that cells stay visible.
	heatmapBuckets = 60
)

// durationParams select the ended tasks of the task_durations source.
var durationParams = []string{"from", "to", "step", "task_type", "user_id", "status"}

var terminalStatuses = []schema.Status{schema.StatusCompleted, schema.StatusFailed, schema.StatusCancelled}

// taskDuration is one ended task: its end (its terminal event) and how
// long it ran.
type taskDuration struct {
	TaskID     string
	TaskType   string
	Status     schema.Status
	EndedAt    int64
	DurationMs int64
}

type durationData struct {
	Window    window
	Tasks     []taskDuration
	Truncated bool
}

// durationQuery reads durationParams: tasks that ended in the window.
func (p *params) durationQuery(tenant string, now int64) (store.TaskFilter, window, error) {
	w, err := p.window(now, 24*time.Hour, heatmapBuckets)
	if err != nil {
		return store.TaskFilter{}, w, err
	}
	f := store.TaskFilter{Tenant: tenant, UpdatedSince: w.From, UpdatedUntil: w.To}
	if f.TaskType, err = p.Str("task_type"); err != nil {
		return f, w, err
	}
	if f.UserID, err = p.Str("user_id"); err != nil {
		return f, w, err
	}
	statuses, err := p.List("status")
	if err != nil {
		return f, w, err
	}
	for _, st := range statuses {
		if !schema.Status(st).Terminal() {
			return f, w, httpx.BadParameter("status", "must be among completed, failed, cancelled (tasks that ended)")
		}
		f.Statuses = append(f.Statuses, schema.Status(st))
	}
	if len(f.Statuses) == 0 {
		f.Statuses = terminalStatuses
	}
	return f, w, nil
}

// loadDurations pages through the ended tasks, reading one more than the
// cap to know whether it cut any off.
func (s *Service) loadDurations(ctx context.Context, f store.TaskFilter, w window) (durationData, error) {
	d := durationData{Window: w, Tasks: []taskDuration{}}
	now := s.now().UnixMilli()
	for {
		f.Limit = min(storePage, maxDurationTasks+1-len(d.Tasks))
		tasks, err := s.store.Tasks(ctx, f)
		if err != nil {
			return d, err
		}
		for _, t := range tasks {
			d.Tasks = append(d.Tasks, taskDuration{
				TaskID: t.TaskID, TaskType: t.TaskType, Status: t.Status,
				EndedAt: t.UpdatedAt, DurationMs: view(t, now).DurationMs,
			})
		}
		if len(d.Tasks) > maxDurationTasks {
			d.Tasks, d.Truncated = d.Tasks[:maxDurationTasks], true
			return d, nil
		}
		if len(tasks) < f.Limit {
			return d, nil
		}
		last := tasks[len(tasks)-1]
		f.After = &store.TaskCursor{UpdatedAt: last.UpdatedAt, TaskID: last.TaskID}
	}
}
