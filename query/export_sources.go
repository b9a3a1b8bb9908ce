package query

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

var taskColumns = []string{"task_id", "user_id", "task_type", "task_name", "status", "progress", "current_step",
	"steps_done", "steps_total", "message", "error", "eta", "created_at", "started_at", "updated_at", "duration_ms", "events", "attributes"}

// exporter is the store as an Exporter, which every store.Store is.
func (s *Service) exporter() (Exporter, error) {
	ex, ok := s.store.(Exporter)
	if !ok {
		return nil, errors.New("export: the store cannot stream")
	}
	return ex, nil
}

func (s *Service) exportTasks(p *params, tenant string) (walker, func() []string, error) {
	f, err := p.taskFilter(tenant)
	if err != nil {
		return nil, nil, err
	}
	ex, err := s.exporter()
	if err != nil {
		return nil, nil, err
	}
	return func(ctx context.Context, emit func(exportRow) error) error {
		now := s.now().UnixMilli()
		return ex.StreamTasks(ctx, f, func(t store.Task) error { return emit(taskRow(s.taskView(tenant, t, now))) })
	}, fixed(taskColumns), nil
}

func taskRow(v TaskView) exportRow {
	t := v.Task
	return exportRow{object: v, cells: []cell{
		text(t.TaskID), text(t.UserID), text(t.TaskType), text(t.TaskName), text(string(t.Status)), ftoa(t.Progress), text(t.CurrentStep),
		itoa(t.StepsDone), itoa(t.StepsTotal), text(t.Message), text(t.Error), optional(v.ETA), itoa(t.CreatedAt),
		optional(t.StartedAt), itoa(t.UpdatedAt), itoa(v.DurationMs), itoa(t.Events), attrs(t.Attributes),
	}}
}

var eventColumns = []string{"event_id", "task_id", "timestamp", "seq", "ingest_order", "user_id", "task_type", "task_name",
	"status", "progress", "current_step", "steps_done", "steps_total", "message", "eta", "error", "attributes"}

// exportEvents walks the selected tasks and, for each, its whole timeline,
// which the store reads through the task's key.
func (s *Service) exportEvents(p *params, tenant string) (walker, func() []string, error) {
	tf, err := p.taskFilter(tenant)
	if err != nil {
		return nil, nil, err
	}
	if tf.TaskIDs, err = p.List("task_id"); err != nil {
		return nil, nil, err
	}
	ex, err := s.exporter()
	if err != nil {
		return nil, nil, err
	}
	return func(ctx context.Context, emit func(exportRow) error) error {
		return ex.StreamTasks(ctx, tf, func(t store.Task) error {
			return s.emitTimeline(ctx, tenant, t.TaskID, emit)
		})
	}, fixed(eventColumns), nil
}

// emitTimeline hands every event of one task to emit, oldest first.
func (s *Service) emitTimeline(ctx context.Context, tenant, taskID string, emit func(exportRow) error) error {
	ef := store.EventFilter{Limit: storePage}
	for {
		events, err := s.store.TaskEvents(ctx, tenant, taskID, ef)
		if err != nil {
			return err
		}
		for _, e := range events {
			e.Tenant = ""
			err := emit(exportRow{object: e, cells: []cell{
				text(e.EventID), text(e.TaskID), itoa(e.Timestamp), itoa(e.Seq), itoa(e.IngestOrder), text(e.UserID), text(e.TaskType), text(e.TaskName),
				text(string(e.Status)), optionalF(e.Progress), text(e.CurrentStep), itoa(e.StepsDone), itoa(e.StepsTotal), text(e.Message),
				optional(e.ETA), text(e.Error), attrs(e.Attributes),
			}})
			if err != nil {
				return err
			}
		}
		if len(events) < ef.Limit {
			return nil
		}
		last := events[len(events)-1]
		ef.After = &store.EventCursor{Timestamp: last.Timestamp, Seq: last.Seq, IngestOrder: last.IngestOrder, EventID: last.EventID}
	}
}

var logColumns = []string{"event_id", "timestamp", "level", "task_id", "user_id", "source", "message", "trace_id", "span_id", "attributes"}

func (s *Service) exportLogs(p *params, tenant string) (walker, func() []string, error) {
	f, err := p.logFilter(tenant)
	if err != nil {
		return nil, nil, err
	}
	ex, err := s.exporter()
	if err != nil {
		return nil, nil, err
	}
	return func(ctx context.Context, emit func(exportRow) error) error {
		return ex.StreamLogs(ctx, f, func(l schema.Log) error {
			l.Tenant = ""
			return emit(exportRow{object: l, cells: []cell{
				text(l.EventID), itoa(l.Timestamp), text(string(l.Level)), text(l.TaskID), text(l.UserID), text(l.Source), text(l.Message),
				text(l.TraceID), text(l.SpanID), attrs(l.Attributes),
			}})
		})
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
func (s *Service) exportSeries(p *params, tenant string) (walker, func() []string, error) {
	r, err := p.seriesRequest(tenant, s.now().UnixMilli())
	if err != nil {
		return nil, nil, err
	}
	var columns []string
	return func(ctx context.Context, emit func(exportRow) error) error {
		series, err := s.loadSeries(ctx, r)
		if err != nil {
			return err
		}
		names := map[string]bool{}
		for _, fs := range series {
			for k := range fs.Labels {
				names[k] = true
			}
		}
		labels := slices.Sorted(maps.Keys(names))
		columns = append(append([]string{"t", "name"}, labels...), "v")
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
				err := emit(exportRow{
					object: seriesRow{T: times[i], Name: r.Query.Name, Labels: fs.Labels, V: *v},
					cells:  append(cells, ftoa(*v)),
				})
				if err != nil {
					return err
				}
			}
		}
		return nil
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
