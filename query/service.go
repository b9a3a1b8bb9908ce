package query

import (
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/eta"
	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Deps are what the query API talks to. Store is required. ETA, when
// set, estimates tasks' time left from their type's history as well;
// without it estimates come from the client or the rate only. Control,
// when set, shows each task's control request on its reads.
type Deps struct {
	Store   Store
	ETA     *eta.Tracker
	Control *control.Registry
	Logger  *slog.Logger
}

// Service is the HTTP query API.
type Service struct {
	store   Store
	eta     *eta.Tracker
	control *control.Registry
	log     *slog.Logger
	now     func() time.Time
}

// New makes the query API; Routes mounts it.
func New(deps Deps) *Service {
	if deps.Store == nil {
		panic("BUG: query.New without a store")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		store:   deps.Store,
		eta:     deps.ETA,
		control: deps.Control,
		log:     deps.Logger.With("component", "query"),
		now:     time.Now,
	}
}

// Routes mounts the query endpoints on r, which must already run
// auth.Middleware.
func (s *Service) Routes(r fiber.Router) {
	r.Get("/v1/tasks", s.listTasks)
	r.Get("/v1/tasks/:id", s.getTask)
	r.Get("/v1/tasks/:id/events", s.taskEvents)
	r.Get("/v1/tasks/:id/logs", s.taskLogs)
	r.Get("/v1/tasks/:id/metrics", s.taskMetrics)
	r.Get("/v1/logs", s.listLogs)
	r.Get("/v1/metrics/series", s.metricSeries)
	r.Get("/v1/stats/overview", s.statsOverview)
	r.Get("/v1/charts/:kind", s.chart)
	r.Get("/v1/dashboards", s.listDashboards)
	r.Post("/v1/dashboards", s.createDashboard)
	r.Get("/v1/dashboards/:id", s.getDashboard)
	r.Put("/v1/dashboards/:id", s.updateDashboard)
	r.Delete("/v1/dashboards/:id", s.deleteDashboard)
	r.Get("/v1/export", s.export)
}

// taskParams select tasks; listings add limit and cursor.
var taskParams = []string{"status", "user_id", "task_type", "updated_since", "updated_until"}

func (s *Service) listTasks(c *fiber.Ctx) error {
	p, err := newParams(c, append(taskParams, "limit", "cursor")...)
	if err != nil {
		return err
	}
	f, err := p.taskFilter(auth.Tenant(c))
	if err != nil {
		return err
	}
	if f.Limit, err = p.Limit(); err != nil {
		return err
	}
	var after store.TaskCursor
	if ok, err := p.Cursor(&after); err != nil {
		return err
	} else if ok {
		f.After = &after
	}
	tasks, err := s.store.Tasks(c.UserContext(), f)
	if err != nil {
		return s.storeError(err)
	}
	views := make([]TaskView, len(tasks))
	now := s.now().UnixMilli()
	for i, t := range tasks {
		views[i] = s.taskView(f.Tenant, t, now)
	}
	next := ""
	if len(tasks) == f.Limit {
		last := tasks[len(tasks)-1]
		next = httpx.EncodeCursor(store.TaskCursor{UpdatedAt: last.UpdatedAt, TaskID: last.TaskID})
	}
	return c.JSON(fiber.Map{"tasks": views, "next_cursor": next})
}

// taskFilter reads taskParams; Limit and After are left to the caller.
func (p *params) taskFilter(tenant string) (store.TaskFilter, error) {
	f := store.TaskFilter{Tenant: tenant}
	statuses, err := p.List("status")
	if err != nil {
		return f, err
	}
	for _, st := range statuses {
		if !schema.Status(st).Valid() {
			return f, httpx.BadParameter("status", "must be among pending, running, paused, completed, failed, cancelled")
		}
		f.Statuses = append(f.Statuses, schema.Status(st))
	}
	if f.UserID, err = p.Str("user_id"); err != nil {
		return f, err
	}
	if f.TaskType, err = p.Str("task_type"); err != nil {
		return f, err
	}
	if f.UpdatedSince, err = p.Time("updated_since"); err != nil {
		return f, err
	}
	if f.UpdatedUntil, err = p.Time("updated_until"); err != nil {
		return f, err
	}
	if f.UpdatedSince > 0 && f.UpdatedUntil > 0 && f.UpdatedUntil <= f.UpdatedSince {
		return f, httpx.BadParameter("updated_until", "must be after updated_since")
	}
	return f, nil
}

func (s *Service) getTask(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	id, err := pathID(c)
	if err != nil {
		return err
	}
	tenant := auth.Tenant(c)
	t, err := s.store.Task(c.UserContext(), tenant, id)
	if err != nil {
		return s.storeError(err)
	}
	return c.JSON(s.taskView(tenant, t, s.now().UnixMilli()))
}

func (s *Service) taskEvents(c *fiber.Ctx) error {
	p, err := newParams(c, "limit", "cursor")
	if err != nil {
		return err
	}
	id, err := pathID(c)
	if err != nil {
		return err
	}
	tenant := auth.Tenant(c)
	f := store.EventFilter{}
	if f.Limit, err = p.Limit(); err != nil {
		return err
	}
	var after store.EventCursor
	if ok, err := p.Cursor(&after); err != nil {
		return err
	} else if ok {
		f.After = &after
	}
	events, err := s.store.TaskEvents(c.UserContext(), tenant, id, f)
	if err != nil {
		return s.storeError(err)
	}
	if len(events) == 0 && f.After == nil {
		// An empty first page may be an unknown task: say so.
		if _, err := s.store.Task(c.UserContext(), tenant, id); err != nil {
			return s.storeError(err)
		}
	}
	if events == nil {
		events = []schema.Progress{} // an array, as the document says, even when empty
	}
	for i := range events {
		events[i].Tenant = ""
	}
	next := ""
	if len(events) == f.Limit {
		last := events[len(events)-1]
		next = httpx.EncodeCursor(store.EventCursor{Timestamp: last.Timestamp, Seq: last.Seq, IngestOrder: last.IngestOrder, EventID: last.EventID})
	}
	return c.JSON(fiber.Map{"events": events, "next_cursor": next})
}

func (s *Service) storeError(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return httpx.NewError(fiber.StatusNotFound, httpx.CodeNotFound, "no such task")
	}
	s.log.Error("store read failed", "err", err)
	return httpx.NewError(fiber.StatusServiceUnavailable, httpx.CodeUnavailable, "the store cannot answer now")
}
