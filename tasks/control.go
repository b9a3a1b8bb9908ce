package tasks

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// requestFrom are the statuses in which a worker holds the task, by the
// operation that then becomes a request to it rather than a change: the
// worker stops, pauses or goes on, and says so by reporting the status.
// In any other status the lifecycle table allows, the operation changes
// the status itself, as no worker runs the task (a pending task is
// cancelled at once).
var requestFrom = map[kind][]schema.Status{
	opCancel: {schema.StatusRunning, schema.StatusPaused},
	opPause:  {schema.StatusRunning},
	opResume: {schema.StatusPaused},
}

// controls reports whether p, on task cur (nil: a new one), is a request
// to its worker.
func (p *pending) controls(cur *store.Task) (control.Action, bool) {
	if !p.asks || cur == nil || !slices.Contains(requestFrom[p.Op], cur.Status) {
		return "", false
	}
	return control.Action(p.Op), true
}

// taskAnswer is a task as the task API answers it: with its control
// state, or, in the answer to a worker's update, the requests pending for
// it (a []control.Delivery). Control is never a typed nil, which JSON
// would show as null.
type taskAnswer struct {
	store.Task
	Control any `json:"control,omitempty"`
}

func answerOf(t *store.Task) *taskAnswer {
	if t == nil {
		return nil
	}
	return &taskAnswer{Task: *t}
}

// checkRequest reports a bad ack_timeout or requested_by.
func (op *operation) checkRequest() []schema.FieldError {
	var problems []schema.FieldError
	if op.AckTimeout != nil {
		if _, err := ackTimeout(op.AckTimeout); err != "" {
			problems = append(problems, schema.FieldError{Field: "ack_timeout", Reason: err})
		}
	}
	if by := op.RequestedBy; by != nil {
		switch {
		case *by == "" || len(*by) > control.MaxRequestedBy:
			problems = append(problems, schema.FieldError{Field: "requested_by", Reason: "must be 1 to " + strconv.Itoa(control.MaxRequestedBy) + " bytes"})
		case !printable(*by):
			problems = append(problems, schema.FieldError{Field: "requested_by", Reason: "must hold no control characters"})
		}
	}
	return problems
}

// ackTimeout reads ack_timeout, or gives the default when absent; the
// string is the reason it is refused.
func ackTimeout(s *string) (time.Duration, string) {
	if s == nil {
		return control.DefaultAckTimeout, ""
	}
	d, err := time.ParseDuration(*s)
	if err != nil || d < control.MinAckTimeout || d > control.MaxAckTimeout {
		return 0, "must be a duration from " + control.MinAckTimeout.String() + " to " + control.MaxAckTimeout.String() + ", such as 30s or 5m"
	}
	return d, ""
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// request is the control request p makes of task cur, asked at now.
func (p *pending) request(tenant string, cur *store.Task, action control.Action, prev *control.Request, now time.Time) control.Request {
	timeout, _ := ackTimeout(p.AckTimeout)
	by := tenant
	if p.RequestedBy != nil {
		by = *p.RequestedBy
	}
	ms := now.UnixMilli()
	var prevVersion int64
	if prev != nil {
		prevVersion = prev.Version
	}
	return control.Request{
		Tenant: tenant, TaskID: p.taskID, UserID: cur.UserID, ID: p.EventID, Action: action,
		RequestedAt: ms, RequestedBy: by, AckDeadline: ms + timeout.Milliseconds(),
		Version: control.NewVersion(ms, prevVersion),
	}
}

// ask answers an operation that is a request to the task's worker: 202
// with the task and its control state. A request like the one pending
// (same action), or a retry of the one made, is answered again without a
// new one; any other replaces the task's request.
func (s *Service) ask(tenant string, p *pending, k *known, action control.Action, now time.Time) (result, *control.Request) {
	prev, had := s.control.Get(tenant, p.taskID)
	answer := func(r control.Request) result {
		t := answerOf(&k.task)
		t.Control = r.View(now.UnixMilli())
		return result{Index: p.index, Status: fiber.StatusAccepted, Task: t}
	}
	if had && (prev.ID == p.EventID || prev.Pending() && prev.Action == action) {
		return answer(prev), nil
	}
	var last *control.Request
	if had {
		last = &prev
	}
	r := p.request(tenant, &k.task, action, last, now)
	return answer(r), &r
}

// record makes reqs durable, on the bus with the events of their request
// (publish) and then in the store's documents, and tells this process's
// registry, so that a read right after the answer shows them.
func (s *Service) record(ctx context.Context, reqs []control.Request) error {
	if len(reqs) == 0 {
		return nil
	}
	docs := make([]store.Document, len(reqs))
	for i := range reqs {
		r := &reqs[i]
		docs[i] = store.Document{Tenant: r.Tenant, Kind: control.DocumentKind, ID: r.TaskID, Version: r.Version, Body: r.Encode(), UpdatedAt: r.RequestedAt}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	if err := s.store.PutDocuments(ctx, docs...); err != nil {
		return err
	}
	for _, r := range reqs {
		s.control.Apply(r)
	}
	return nil
}

// controlRecords are the bus records of reqs.
func controlRecords(reqs []control.Request, headers map[string]string) []bus.Record {
	recs := make([]bus.Record, len(reqs))
	for i := range reqs {
		recs[i] = bus.Record{Topic: control.TopicControl, Key: []byte(reqs[i].TaskID), Value: reqs[i].Encode(), Headers: headers}
	}
	return recs
}

// maxPollWait bounds the long poll's wait.
const maxPollWait = 60 * time.Second

// pollControl serves GET /v1/tasks/{id}/control?wait=30s, the long poll
// of a worker: 200 with the task's pending request as soon as there is
// one, or 204 once the wait is over without one. Without a wait it
// answers at once, a plain check.
func (s *Service) pollControl(c *fiber.Ctx) error {
	if err := httpx.OnlyQuery(c, "wait"); err != nil {
		return err
	}
	id, err := taskIDParam(c)
	if err != nil {
		return err
	}
	var wait time.Duration
	if v := c.Query("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > maxPollWait {
			return httpx.BadParameter("wait", "must be a duration from 0s to "+maxPollWait.String()+", such as 30s")
		}
		wait = d
	}
	tenant := auth.Tenant(c)
	found, err := s.lookup(c.UserContext(), tenant, []string{id}, []string{id})
	if err != nil {
		return s.unavailable("the store cannot answer now", err)
	}
	if k := found[id]; k == nil || k.task.Status == schema.StatusDeleted {
		return httpx.NewError(fiber.StatusNotFound, httpx.CodeNotFound, "no such task")
	}
	release, ok := s.polls.take(tenant)
	if !ok {
		return &httpx.Error{Status: fiber.StatusTooManyRequests, Code: httpx.CodeRateLimited,
			Message: "the tenant has " + strconv.Itoa(s.cfg.MaxPolls) + " long polls open; retry later", RetryAfter: 1}
	}
	defer release()
	ctx, cancel := context.WithTimeout(c.UserContext(), wait)
	defer cancel()
	r, ok := s.control.Wait(ctx, tenant, id)
	if !ok {
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.JSON(r.Delivery())
}

// polls counts the long polls open per tenant, so that one tenant cannot
// hold every connection the server has.
type polls struct {
	mu   sync.Mutex
	max  int
	open map[string]int
}

func (p *polls) take(tenant string) (release func(), ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open[tenant] >= p.max {
		return nil, false
	}
	p.open[tenant]++
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.open[tenant]--; p.open[tenant] == 0 {
			delete(p.open, tenant)
		}
	}, true
}
