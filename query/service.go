package query

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Reader is the part of the store the query API needs.
type Reader interface {
	Tasks(ctx context.Context, f store.TaskFilter) ([]store.Task, error)
	Task(ctx context.Context, tenant, taskID string) (store.Task, error)
	TaskEvents(ctx context.Context, tenant, taskID string, f store.EventFilter) ([]schema.Progress, error)
}

// Deps are what the query API talks to. Store is required; a nil reader
// of another signal makes its routes answer 501, so a store that does not
// keep logs or metrics yet still serves tasks.
type Deps struct {
	Store      Reader
	Logs       LogReader
	Series     SeriesReader
	Stats      StatsReader
	Dashboards DashboardKeeper
	Logger     *slog.Logger
}

// Service is the HTTP query API.
type Service struct {
	store      Reader
	logs       LogReader
	series     SeriesReader
	stats      StatsReader
	dashboards DashboardKeeper
	log        *slog.Logger
	now        func() time.Time

	// dashboardWrites serialises read-modify-write of dashboards within
	// this process, so that two updates cannot both take the same version.
	dashboardWrites sync.Mutex
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
		store:      deps.Store,
		logs:       deps.Logs,
		series:     deps.Series,
		stats:      deps.Stats,
		dashboards: deps.Dashboards,
		log:        deps.Logger.With("component", "query"),
		now:        time.Now,
	}
}

// Routes mounts the query endpoints on r, which must already run
// auth.Middleware.
func (s *Service) Routes(r fiber.Router) {
	r.Get("/v1/tasks", s.listTasks)
	r.Get("/v1/tasks/:id", s.getTask)
	r.Get("/v1/tasks/:id/events", s.taskEvents)
	r.Get("/v1/tasks/:id/logs", needs(s.logs != nil, "logs"), s.taskLogs)
	r.Get("/v1/logs", needs(s.logs != nil, "logs"), s.listLogs)
	r.Get("/v1/metrics/series", needs(s.series != nil, "metrics"), s.metricSeries)
	r.Get("/v1/stats/overview", needs(s.stats != nil, "task statistics"), s.statsOverview)
	r.Get("/v1/charts/:kind", s.chart)
	dash := needs(s.dashboards != nil, "dashboards")
	r.Get("/v1/dashboards", dash, s.listDashboards)
	r.Post("/v1/dashboards", dash, s.createDashboard)
	r.Get("/v1/dashboards/:id", dash, s.getDashboard)
	r.Put("/v1/dashboards/:id", dash, s.updateDashboard)
	r.Delete("/v1/dashboards/:id", dash, s.deleteDashboard)
	r.Get("/v1/export", s.export)
}

// needs answers 501 on a route whose reader the store does not provide.
func needs(ok bool, what string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !ok {
			return notImplemented(what)
		}
		return c.Next()
	}
}

func notImplemented(what string) error {
	return httpx.NewError(fiber.StatusNotImplemented, httpx.CodeNotImplemented, "this store does not keep "+what)
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
	if f.Limit, err = p.limit(); err != nil {
		return err
	}
	var after store.TaskCursor
	if ok, err := p.cursor(&after); err != nil {
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
		views[i] = view(t, now)
	}
	next := ""
	if len(tasks) == f.Limit {
		last := tasks[len(tasks)-1]
		next = encodeCursor(store.TaskCursor{UpdatedAt: last.UpdatedAt, TaskID: last.TaskID})
	}
	return c.JSON(fiber.Map{"tasks": views, "next_cursor": next})
}

// taskFilter reads taskParams; Limit and After are left to the caller.
func (p *params) taskFilter(tenant string) (store.TaskFilter, error) {
	f := store.TaskFilter{Tenant: tenant}
	statuses, err := p.list("status")
	if err != nil {
		return f, err
	}
	for _, st := range statuses {
		if !schema.Status(st).Valid() {
			return f, httpx.BadParameter("status", "must be among pending, running, paused, completed, failed, cancelled")
		}
		f.Statuses = append(f.Statuses, schema.Status(st))
	}
	if f.UserID, err = p.str("user_id"); err != nil {
		return f, err
	}
	if f.TaskType, err = p.str("task_type"); err != nil {
		return f, err
	}
	if f.UpdatedSince, err = p.time("updated_since"); err != nil {
		return f, err
	}
	if f.UpdatedUntil, err = p.time("updated_until"); err != nil {
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
	t, err := s.store.Task(c.UserContext(), auth.Tenant(c), id)
	if err != nil {
		return s.storeError(err)
	}
	return c.JSON(view(t, s.now().UnixMilli()))
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
	if f.Limit, err = p.limit(); err != nil {
		return err
	}
	var after store.EventCursor
	if ok, err := p.cursor(&after); err != nil {
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
	for i := range events {
		events[i].Tenant = ""
	}
	next := ""
	if len(events) == f.Limit {
		last := events[len(events)-1]
		next = encodeCursor(store.EventCursor{Timestamp: last.Timestamp, Seq: last.Seq, IngestOrder: last.IngestOrder, EventID: last.EventID})
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
