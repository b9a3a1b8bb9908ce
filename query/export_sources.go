package query

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"

	"github.com/taskpulse/taskpulse/internal/store"
)

var taskColumns = []string{"task_id", "user_id", "task_type", "task_name", "status", "progress", "current_step",
	"steps_done", "steps_total", "message", "error", "eta", "created_at", "started_at", "updated_at", "duration_ms", "events", "attributes"}

func (s *Service) exportTasks(p *params, tenant string) (pager, func() []string, error) {
	f, err := p.taskFilter(tenant)
	if err != nil {
		return nil, nil, err
	}
	f.Limit = storePage
	return func(ctx context.Context) ([]exportRow, bool, error) {
		tasks, err := s.store.Tasks(ctx, f)
		if err != nil {
			return nil, false, err
		}
		now := s.now().UnixMilli()
		rows := make([]exportRow, len(tasks))
		for i, t := range tasks {
			v := view(t, now)
			rows[i] = exportRow{object: v, cells: []cell{
				text(t.TaskID), text(t.UserID), text(t.TaskType), text(t.TaskName), text(string(t.Status)), ftoa(t.Progress), text(t.CurrentStep),
				itoa(t.StepsDone), itoa(t.StepsTotal), text(t.Message), text(t.Error), optional(v.ETA), itoa(t.CreatedAt),
				optional(t.StartedAt), itoa(t.UpdatedAt), itoa(v.DurationMs), itoa(t.Events), attrs(t.Attributes),
			}}
		}
		if len(tasks) < f.Limit {
			return rows, true, nil
		}
		last := tasks[len(tasks)-1]
		f.After = &store.TaskCursor{UpdatedAt: last.UpdatedAt, TaskID: last.TaskID}
		return rows, false, nil
	}, fixed(taskColumns), nil
}

var eventColumns = []string{"event_id", "task_id", "timestamp", "seq", "ingest_order", "user_id", "task_type", "task_name",
	"status", "progress", "current_step", "steps_done", "steps_total", "message", "eta", "error", "attributes"}

// exportEvents walks the selected tasks and, for each, its whole timeline.
func (s *Service) exportEvents(p *params, tenant string) (pager, func() []string, error) {
	tf, err := p.taskFilter(tenant)
	if err != nil {
		return nil, nil, err
	}
	if tf.TaskIDs, err = p.List("task_id"); err != nil {
		return nil, nil, err
	}
	tf.Limit = storePage
	var (
		tasks     []store.Task // the current page of tasks
		tasksDone bool
		ef        = store.EventFilter{Limit: storePage}
	)
	return func(ctx context.Context) ([]exportRow, bool, error) {
		if len(tasks) == 0 {
			if tasksDone {
				return nil, true, nil
			}
			page, err := s.store.Tasks(ctx, tf)
			if err != nil {
				return nil, false, err
			}
			tasks, tasksDone = page, len(page) < tf.Limit
			if len(page) > 0 {
				last := page[len(page)-1]
				tf.After = &store.TaskCursor{UpdatedAt: last.UpdatedAt, TaskID: last.TaskID}
			}
			if len(tasks) == 0 {
				return nil, true, nil
			}
		}
		events, err := s.store.TaskEvents(ctx, tenant, tasks[0].TaskID, ef)
		if err != nil {
			return nil, false, err
		}
		rows := make([]exportRow, len(events))
		for i, e := range events {
			e.Tenant = ""
			rows[i] = exportRow{object: e, cells: []cell{
				text(e.EventID), text(e.TaskID), itoa(e.Timestamp), itoa(e.Seq), itoa(e.IngestOrder), text(e.UserID), text(e.TaskType), text(e.TaskName),
				text(string(e.Status)), optionalF(e.Progress), text(e.CurrentStep), itoa(e.StepsDone), itoa(e.StepsTotal), text(e.Message),
				optional(e.ETA), text(e.Error), attrs(e.Attributes),
			}}
		}
		if len(events) == ef.Limit {
			last := events[len(events)-1]
			ef.After = &store.EventCursor{Timestamp: last.Timestamp, Seq: last.Seq, IngestOrder: last.IngestOrder, EventID: last.EventID}
		} else {
			tasks, ef.After = tasks[1:], nil
		}
		return rows, tasksDone && len(tasks) == 0, nil
	}, fixed(eventColumns), nil
}

var logColumns = []string{"event_id", "timestamp", "level", "task_id", "user_id", "source", "message", "trace_id", "span_id", "attributes"}

func (s *Service) exportLogs(p *params, tenant string) (pager, func() []string, error) {
	f, err := p.logFilter(tenant)
	if err != nil {
		return nil, nil, err
	}
	f.Limit = storePage
	return func(ctx context.Context) ([]exportRow, bool, error) {
		logs, err := s.store.Logs(ctx, f)
		if err != nil {
			return nil, false, err
		}
		rows := make([]exportRow, len(logs))
		for i, l := range logs {
			l.Tenant = ""
			rows[i] = exportRow{object: l, cells: []cell{
				text(l.EventID), itoa(l.Timestamp), text(string(l.Level)), text(l.TaskID), text(l.UserID), text(l.Source), text(l.Message),
				text(l.TraceID), text(l.SpanID), attrs(l.Attributes),
			}}
		}
		if len(logs) < f.Limit {
			return rows, true, nil
		}
		c := logCursor(logs[len(logs)-1])
		f.After = &c
		return rows, false, nil
	}, fixed(logColumns), nil
}

// seriesRow is one bucket of one series in an export; empty buckets are
// left out.
type seriesRow struct {
	T      int64             `json:"t"`
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	V      float64           `json:"v"`
}

// exportSeries reads the series in one store query (the bucket cap bounds
// it) and writes a column per label of any series, known once it is read.
func (s *Service) exportSeries(p *params, tenant string) (pager, func() []string, error) {
	r, err := p.seriesRequest(tenant, s.now().UnixMilli())
	if err != nil {
		return nil, nil, err
	}
	var columns []string
	return func(ctx context.Context) ([]exportRow, bool, error) {
		series, err := s.loadSeries(ctx, r)
		if err != nil {
			return nil, false, err
		}
		names := map[string]bool{}
		for _, fs := range series {
			for k := range fs.Labels {
				names[k] = true
			}
		}
		labels := slices.Sorted(maps.Keys(names))
		columns = append(append([]string{"t", "name"}, labels...), "v")
		var rows []exportRow
		times := r.Window.times()
		for _, fs := range series {
			for i, v := range fs.Values {
				if v == nil {
					continue
				}
				cells := []cell{itoa(times[i]), text(r.Query.Name)}
				for _, k := range labels {
					cells = append(cells, text(fs.Labels[k]))
				}
				rows = append(rows, exportRow{
					object: seriesRow{T: times[i], Name: r.Query.Name, Labels: fs.Labels, V: *v},
					cells:  append(cells, ftoa(*v)),
				})
			}
		}
		return rows, true, nil
	}, func() []string { return columns }, nil
}

func fixed(columns []string) func() []string { return func() []string { return columns } }

// The number cells.

func itoa(n int64) cell { return cell{value: strconv.FormatInt(n, 10), number: true} }

func ftoa(v float64) cell { return cell{value: strconv.FormatFloat(v, 'g', -1, 64), number: true} }

func optional(n *int64) cell {
	if n == nil {
		return cell{number: true}
	}
	return itoa(*n)
}

func optionalF(v *float64) cell {
	if v == nil {
		return cell{number: true}
	}
	return ftoa(*v)
}

// attrs writes a map as one JSON text cell; empty when there is none.
func attrs(m map[string]string) cell {
	if len(m) == 0 {
		return text("")
	}
	b, _ := json.Marshal(m)
	return text(string(b))
}
