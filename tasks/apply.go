package tasks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/telemetry"
	"github.com/taskpulse/taskpulse/schema"
)

// Every route ends in apply, one operation or a batch of them alike: the
// tasks are looked up, each operation is checked against the state the
// ones before it left, and the events of those that pass go onto the bus
// in one write, before any is answered.

// pending is an operation checked on its own and ready to apply.
type pending struct {
	operation
	index  int
	taskID string
	// retry says the client chose the event id (event_id or
	// Idempotency-Key): an operation whose event is already the task's is
	// a retry, answered as the first time.
	retry bool
	// asks makes a cancel, pause or resume of a task a worker holds a
	// request to the worker; a batch's and the former progress module's
	// change the status at once.
	asks bool
}

// result is the answer to one operation.
type result struct {
	Index  int          `json:"index"`
	Status int          `json:"status"`
	Task   *taskAnswer  `json:"task,omitempty"`
	Error  *httpx.Error `json:"error,omitempty"`
}

func failed(index int, err *httpx.Error) result {
	return result{Index: index, Status: err.Status, Error: err}
}

// limit refuses, with 429, a request over its tenant's ingest rate: every
// operation is an event.
func (s *Service) limit(c *fiber.Ctx, tenant string, events int) error {
	if s.limits == nil {
		return nil
	}
	wait, ok := s.limits.AllowIngest(tenant, events, len(c.Body()))
	if ok {
		return nil
	}
	return &httpx.Error{
		Status:     fiber.StatusTooManyRequests,
		Code:       httpx.CodeRateLimited,
		Message:    "the tenant is over its ingest rate; nothing was done, retry later",
		RetryAfter: max(1, int((wait+time.Second-1)/time.Second)),
	}
}

// apply runs ps, in order, for the request's tenant. An error is the
// answer to the whole request (429, 503): then nothing was published.
func (s *Service) apply(c *fiber.Ctx, ps []*pending) ([]result, error) {
	tenant := auth.Tenant(c)
	if err := s.limit(c, tenant, len(ps)); err != nil {
		return nil, err
	}
	ctx := c.UserContext()
	var ids, waitFor []string
	created := map[string]bool{}
	for _, p := range ps {
		ids = append(ids, p.taskID)
		if p.Op == opCreate {
			created[p.taskID] = true
		}
	}
	for _, p := range ps {
		// A task the batch creates is not waited for: it is new.
		if !created[p.taskID] {
			waitFor = append(waitFor, p.taskID)
		}
	}
	unlock := s.stripes.lock(tenant, ids)
	defer unlock()
	found, err := s.lookup(ctx, tenant, ids, waitFor)
	if err != nil {
		return nil, s.unavailable("the store cannot answer now", err)
	}

	now := s.now()
	order := s.reserveOrder(now, len(ps))
	results := make([]result, len(ps))
	var events []schema.Progress
	var requests []control.Request
	var touched []string
	for i, p := range ps {
		r, e, req, err := s.step(ctx, tenant, p, found, now, order+int64(i))
		if err != nil {
			return nil, s.unavailable("the store cannot answer now", err)
		}
		results[i] = r
		if e != nil {
			events = append(events, *e)
			touched = append(touched, p.taskID)
		}
		if req != nil {
			requests = append(requests, *req)
		}
	}
	if err := s.publish(ctx, tenant, events, requests); err != nil {
		s.count(ps, nil)
		return nil, s.unavailable("the bus cannot take data now; nothing was done, retry later", err)
	}
	if err := s.record(ctx, requests); err != nil {
		s.count(ps, nil)
		return nil, s.unavailable("the store cannot keep the control request now; retry later", err)
	}
	// The registry learns from the bus too; told now, the answers and
	// the reads that follow them show the acknowledgements these events
	// make.
	for i := range events {
		s.control.Observe(ctx, &events[i])
	}
	for i := range results {
		if t := results[i].Task; t != nil && t.Control == nil {
			if v := s.control.View(tenant, t.TaskID, now.UnixMilli()); v != nil {
				t.Control = v
			}
		}
	}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(touched))) {
		k := found[id]
		s.view.put(taskKey{tenant, id}, k.task, k.created)
	}
	s.count(ps, results)
	return results, nil
}

// step applies one operation to the states in found, which it updates,
// and returns its answer and, when it changes the task, its event, or,
// when it asks the task's worker, its control request.
func (s *Service) step(ctx context.Context, tenant string, p *pending, found map[string]*known, now time.Time, order int64) (result, *schema.Progress, *control.Request, error) {
	k := found[p.taskID]
	if k != nil && k.task.Status == schema.StatusDeleted {
		k = nil // a deleted task is gone; its id may name a new one
	}
	switch {
	case p.Op == opCreate && k != nil:
		first, err := s.createOf(ctx, tenant, p, k)
		if err != nil || first != nil {
			return result{Index: p.index, Status: fiber.StatusCreated, Task: answerOf(first)}, nil, nil, err
		}
		return failed(p.index, exists(p.index, k.task.Status)), nil, nil, nil
	case p.Op != opCreate && k == nil:
		return failed(p.index, httpx.NewError(fiber.StatusNotFound, httpx.CodeNotFound, "no such task")), nil, nil, nil
	case p.Op != opCreate && p.retry && k.task.EventID == p.EventID:
		return result{Index: p.index, Status: fiber.StatusOK, Task: answerOf(&k.task)}, nil, nil, nil
	}
	var cur *store.Task
	if k != nil {
		cur = &k.task
	}
	if p.Op == opDelete {
		r, e := s.tombstone(tenant, p, k, now, order)
		return r, e, nil, nil
	}
	e := p.event(p.taskID, cur)
	s.stamp(&e, tenant, cur, now, order)
	if problems := e.Validate(now.UnixMilli()); len(problems) > 0 {
		return failed(p.index, invalid(p.index, problems)), nil, nil, nil
	}
	if cur != nil && !allowed(cur.Status, e.Status, p.Op == opUpdate) {
		return failed(p.index, forbidden(p.index, cur.Status, e.Status)), nil, nil, nil
	}
	if action, ok := p.controls(cur); ok {
		// A worker holds the task: the change is asked of it, not made.
		r, req := s.ask(tenant, p, k, action, now)
		return r, nil, req, nil
	}
	next := advance(cur, &e)
	if cur == nil {
		first := next
		found[p.taskID] = &known{task: next, created: &first}
		return result{Index: p.index, Status: fiber.StatusCreated, Task: answerOf(&first)}, &e, nil, nil
	}
	k.task = next
	return result{Index: p.index, Status: fiber.StatusOK, Task: answerOf(&next)}, &e, nil, nil
}

// tombstone deletes the task k: its event, status deleted, is ordered
// after every event the task has, so every store removes them all, and
// any status may take it. The store removes the task's data after the
// answer, so it is 202.
func (s *Service) tombstone(tenant string, p *pending, k *known, now time.Time, order int64) (result, *schema.Progress) {
	e := schema.Progress{EventID: p.EventID, TaskID: p.taskID, Status: schema.StatusDeleted}
	s.stamp(&e, tenant, &k.task, now, order)
	k.task = advance(&k.task, &e)
	return result{Index: p.index, Status: fiber.StatusAccepted, Task: answerOf(&k.task)}, &e
}

// createOf returns the answer to the task's create when p repeats it, or
// nil when p is another create of a task that exists.
func (s *Service) createOf(ctx context.Context, tenant string, p *pending, k *known) (*store.Task, error) {
	if !p.retry {
		return nil, nil
	}
	if k.created != nil {
		if k.created.EventID == p.EventID {
			return k.created, nil
		}
		return nil, nil
	}
	// Created through another process, or before this one started: the
	// create is the task's first event.
	first, err := s.store.TaskEvents(ctx, tenant, p.taskID, store.EventFilter{Limit: 1})
	if err != nil || len(first) == 0 || first[0].EventID != p.EventID {
		return nil, err
	}
	t := advance(nil, &first[0])
	k.created = &t
	return &t, nil
}

// exists is the 409 of a create whose task exists.
func exists(index int, current schema.Status) *httpx.Error {
	reason := "names a task that exists, in status " + string(current) + "; a create is repeated only with its own event_id or Idempotency-Key"
	return conflict(index, "task_id", reason, "the task exists", current)
}

// invalid is the 400 of an operation whose resulting event is invalid.
func invalid(index int, problems []schema.FieldError) *httpx.Error {
	for i := range problems {
		problems[i].Index = index
	}
	return &httpx.Error{
		Status:  fiber.StatusBadRequest,
		Code:    httpx.CodeValidation,
		Message: problems[0].Error() + "; nothing was done",
		Details: problems,
	}
}

// stamp sets the server's fields of e. Its place in the task's order comes
// after cur's latest event, whatever the clocks say, so that the change
// becomes the task's state: when cur's event is stamped at or after now
// (a worker's clock ahead of this one), e takes its time and seq and a
// later ingest order.
func (s *Service) stamp(e *schema.Progress, tenant string, cur *store.Task, now time.Time, order int64) {
	e.Tenant = tenant
	e.Timestamp, e.IngestOrder = now.UnixMilli(), order
	if cur != nil && cur.UpdatedAt >= e.Timestamp {
		e.Timestamp, e.Seq = cur.UpdatedAt, cur.Seq
		e.IngestOrder = max(order, cur.IngestOrder+1)
	}
}

// reserveOrder reserves n consecutive ingest orders and returns the first,
// as ingest does: above every earlier one, and near the time in
// nanoseconds so that it orders well against other processes.
func (s *Service) reserveOrder(now time.Time, n int) int64 {
	for {
		prev := s.order.Load()
		first := max(prev+1, now.UnixNano())
		if s.order.CompareAndSwap(prev, first+int64(n)-1) {
			return first
		}
	}
}

// publish puts events, and the control requests made beside them, on
// the bus in one write, keyed by task so that a
// task's events keep their order; it returns once the bus holds them
// durably.
func (s *Service) publish(ctx context.Context, tenant string, events []schema.Progress, requests []control.Request) error {
	if len(events)+len(requests) == 0 {
		return nil
	}
	headers := map[string]string{schema.HeaderTenant: tenant}
	telemetry.InjectHeaders(ctx, headers)
	recs := make([]bus.Record, len(events))
	for i := range events {
		value, err := schema.AppendProgress(nil, &events[i])
		if err != nil {
			return fmt.Errorf("encode progress: %w", err)
		}
		recs[i] = bus.Record{Topic: schema.TopicProgress, Key: []byte(events[i].TaskID), Value: value, Headers: headers}
	}
	recs = append(recs, controlRecords(requests, headers)...)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	return s.bus.Publish(ctx, recs...)
}

// unavailable is a 503 for a bus or store failure, which is logged.
func (s *Service) unavailable(message string, err error) error {
	if !errors.Is(err, context.Canceled) {
		s.log.Warn("task operation failed", "err", err)
	}
	return &httpx.Error{Status: fiber.StatusServiceUnavailable, Code: httpx.CodeUnavailable, Message: message, RetryAfter: s.cfg.RetryAfter}
}

// count records how each operation was answered; nil results: with 503.
func (s *Service) count(ps []*pending, results []result) {
	for i, p := range ps {
		code := http.StatusServiceUnavailable
		if results != nil {
			code = results[i].Status
		}
		s.outcome.WithLabelValues(string(p.Op), strconv.Itoa(code)).Inc()
	}
}

// newEventID is the id of an event the client named none for.
func newEventID() string {
	return uuid.Must(uuid.NewV7()).String()
}
