package tasks

import (
	"cmp"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/jsonx"
	"github.com/taskpulse/taskpulse/schema"
)

// MaxBatch is the most operations one batch may hold.
const MaxBatch = 1000

// single is the handler of the route of one operation of kind k.
func single(k kind) func(*Service, *fiber.Ctx) error {
	return func(s *Service, c *fiber.Ctx) error { return s.one(c, k, false) }
}

// asking is the handler of the route of a cancel, pause or resume that a
// person sends: on a task a worker holds, it is a request to the worker
// (control.go).
func asking(k kind) func(*Service, *fiber.Ctx) error {
	return func(s *Service, c *fiber.Ctx) error { return s.one(c, k, true) }
}

// one serves a route of a single operation: 201 with the new task and its
// Location for a create, 202 with the task and its control state for a
// request to its worker, 200 with the task's new state otherwise, or the
// operation's error. asks says the route's cancel, pause or resume asks
// the worker.
func (s *Service) one(c *fiber.Ctx, k kind, asks bool) error {
	if err := httpx.OnlyQuery(c); err != nil {
		return err
	}
	pathID := ""
	if k != opCreate {
		var err error
		if pathID, err = taskIDParam(c); err != nil {
			return err
		}
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	var op operation
	// A lifecycle change says all it needs in its path; its body, with a
	// message or attributes, is optional.
	if len(c.Body()) > 0 || k == opCreate || k == opUpdate {
		if err := httpx.DecodeJSON(c, &op); err != nil {
			return err
		}
	}
	if op.Op != "" {
		return invalid(0, []schema.FieldError{{Field: "op", Reason: "is a field of batch operations only"}})
	}
	op.Op = k
	p, bad := prepare(auth.Tenant(c), 0, op, false, pathID, key)
	if bad != nil {
		return bad
	}
	p.asks = asks
	results, err := s.apply(c, []*pending{p})
	if err != nil {
		return err
	}
	r := results[0]
	if r.Error != nil {
		return r.Error
	}
	switch {
	case r.Status == fiber.StatusCreated:
		c.Location("/v1/tasks/" + url.PathEscape(r.Task.TaskID))
	case k == opDelete:
		return c.Status(r.Status).JSON(deleted{TaskID: r.Task.TaskID, EventID: r.Task.EventID, DeletedAt: r.Task.UpdatedAt})
	case k == opUpdate:
		// The worker's report: its answer carries what is asked of it.
		r.Task.Control = nil
		if pending := s.control.Deliveries(nil, auth.Tenant(c), 1, func(int) (string, schema.Status) { return r.Task.TaskID, r.Task.Status }); len(pending) > 0 {
			r.Task.Control = pending
		}
	}
	return c.Status(r.Status).JSON(r.Task)
}

// deleted is the answer to a delete, which the stores carry out after it:
// the tombstone's event id and time, which order it against the task's
// events (see store.TaskStore).
type deleted struct {
	TaskID    string `json:"task_id"`
	EventID   string `json:"event_id"`
	DeletedAt int64  `json:"deleted_at"`
}

// batchAnswer is the answer to a batch: one result per operation, at its
// index, and how many changed a task.
type batchAnswer struct {
	Applied int      `json:"applied"`
	Results []result `json:"results"`
}

// batch serves POST /v1/tasks/batch. Each operation is answered at its
// index, good or bad; the good ones go onto the bus in one write. Only a
// body that is not a batch at all, or a bus or rate failure, fails the
// whole request.
func (s *Service) batch(c *fiber.Ctx) error {
	if err := httpx.OnlyQuery(c); err != nil {
		return err
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	var body struct {
		Operations []json.RawMessage `json:"operations"`
	}
	if err := httpx.DecodeJSON(c, &body); err != nil {
		return err
	}
	switch n := len(body.Operations); {
	case n == 0:
		return invalid(0, []schema.FieldError{{Field: "operations", Reason: "must hold at least one operation"}})
	case n > MaxBatch:
		return invalid(0, []schema.FieldError{{Field: "operations", Reason: "must hold at most " + strconv.Itoa(MaxBatch) + " operations"}})
	}
	tenant := auth.Tenant(c)
	answer := batchAnswer{Results: make([]result, len(body.Operations))}
	var ps []*pending
	for i, raw := range body.Operations {
		p, bad := prepareRaw(tenant, i, raw, key)
		if bad != nil {
			answer.Results[i] = failed(i, bad)
			continue
		}
		ps = append(ps, p)
	}
	if len(ps) > 0 {
		applied, err := s.apply(c, ps)
		if err != nil {
			return err
		}
		for _, r := range applied {
			answer.Results[r.Index] = r
			if r.Status < 300 {
				answer.Applied++
			}
		}
	}
	return c.JSON(answer)
}

// prepareRaw decodes and checks the index-th operation of a batch. Its
// Idempotency-Key, when the batch has one, is the batch's and its index.
func prepareRaw(tenant string, index int, raw json.RawMessage, batchKey string) (*pending, *httpx.Error) {
	var op operation
	if err := jsonx.Decode(raw, &op); err != nil {
		// The answer of a body decoded alone, at the operation's index.
		var bad *httpx.Error
		if !errors.As(httpx.JSONProblem(err), &bad) {
			panic("BUG: jsonx.Decode returned " + err.Error())
		}
		return nil, bad
	}
	key := ""
	if batchKey != "" {
		key = batchKey + "/" + strconv.Itoa(index)
	}
	return prepare(tenant, index, op, true, "", key)
}

// prepare checks op, the index-th of its request, on its own, and settles
// its task and event ids. inBatch says the body names the task; otherwise
// pathID does, but for a create. key is its Idempotency-Key, if any.
func prepare(tenant string, index int, op operation, inBatch bool, pathID, key string) (*pending, *httpx.Error) {
	problems := op.check(inBatch)
	if key != "" && op.EventID != "" {
		problems = append(problems, schema.FieldError{Field: "event_id", Reason: "must not be sent with an Idempotency-Key header"})
	}
	p := &pending{operation: op, index: index, taskID: pathID}
	if key != "" {
		p.EventID = keyEventID(tenant, op.Op, key)
	}
	p.retry = p.EventID != ""
	if !p.retry {
		p.EventID = newEventID()
	}
	if inBatch || op.Op == opCreate {
		p.taskID = op.TaskID
	}
	if op.Op == opCreate {
		// A create without an id is named by its event, so that its
		// retry names the same task.
		p.taskID = cmp.Or(p.taskID, p.EventID)
	}
	// The ids are looked up before the event is checked whole.
	probe := schema.Progress{TaskID: p.taskID, EventID: p.EventID, Status: schema.StatusPending}
	for _, e := range probe.Validate(0) {
		if e.Field == "task_id" && p.taskID != "" || e.Field == "event_id" {
			problems = append(problems, e)
		}
	}
	if len(problems) > 0 {
		return nil, invalid(index, problems)
	}
	return p, nil
}

// taskIDParam reads the task id of the path by the rule ingest applies to
// task_id, so that an id no task can have is a 400 rather than a 404.
func taskIDParam(c *fiber.Ctx) (string, error) {
	id, err := httpx.Param(c, "id")
	if err != nil {
		return "", err
	}
	probe := schema.Progress{TaskID: id, Status: schema.StatusPending}
	for _, e := range probe.Validate(0) {
		if e.Field == "task_id" {
			return "", httpx.BadParameter("id", e.Reason)
		}
	}
	return id, nil
}

// headerIdempotencyKey names a request a client may retry.
const headerIdempotencyKey = "Idempotency-Key"

// idempotencyKey reads the Idempotency-Key header: 1 to 256 printable
// ASCII characters, or absent.
func idempotencyKey(c *fiber.Ctx) (string, error) {
	raw := c.Request().Header.Peek(headerIdempotencyKey)
	if raw == nil {
		return "", nil
	}
	if len(raw) == 0 || len(raw) > schema.MaxIDLen {
		return "", httpx.BadParameter(headerIdempotencyKey, "must be 1 to 256 characters")
	}
	for _, b := range raw {
		if b < 0x20 || b > 0x7e {
			return "", httpx.BadParameter(headerIdempotencyKey, "must be printable ASCII")
		}
	}
	return string(raw), nil
}

// keySpace is the UUIDv5 name space of event ids made from idempotency
// keys.
var keySpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/taskpulse/taskpulse/idempotency-key"))

// keyEventID is the event id of an operation sent with an idempotency
// key: the same for the same tenant, kind of operation and key, on any
// process, so that the store keeps a retried operation once, while a key
// a client reuses for another kind of operation names another event.
func keyEventID(tenant string, op kind, key string) string {
	return uuid.NewSHA1(keySpace, []byte(tenant+"\x00"+string(op)+"\x00"+key)).String()
}
