package alerting

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
)

// codeConflict answers a change that the current state forbids: editing a
// rule of the rules file, making a rule whose id is taken, deleting a
// channel in use, going past a tenant's limit.
const codeConflict = "conflict"

// Routes mounts the alerting API on r, which must already run
// auth.Middleware.
func (s *Service) Routes(r fiber.Router) {
	r.Get("/v1/alert-rules", s.listRules)
	r.Post("/v1/alert-rules", s.createRule)
	r.Get("/v1/alert-rules/:id", s.getRule)
	r.Put("/v1/alert-rules/:id", s.updateRule)
	r.Delete("/v1/alert-rules/:id", s.deleteRule)
	r.Get("/v1/alerts", s.listAlerts)
	r.Get("/v1/silences", s.listSilences)
	r.Post("/v1/silences", s.createSilence)
	r.Delete("/v1/silences/:id", s.deleteSilence)
	r.Get("/v1/alert-channels", s.listChannels)
	r.Post("/v1/alert-channels", s.createChannel)
	r.Get("/v1/alert-channels/:name", s.getChannel)
	r.Put("/v1/alert-channels/:name", s.updateChannel)
	r.Delete("/v1/alert-channels/:name", s.deleteChannel)
	r.Get("/v1/notifications", s.listNotifications)
	r.Post("/v1/notifications/:id/read", s.readNotificationRoute)
}

func invalid(what string, errs []FieldError) error {
	return &httpx.Error{Status: fiber.StatusBadRequest, Code: httpx.CodeValidation, Message: what + " is not valid", Details: errs}
}

func conflict(msg string) error {
	return httpx.NewError(fiber.StatusConflict, codeConflict, msg)
}

func notFound(what string) error {
	return httpx.NewError(fiber.StatusNotFound, httpx.CodeNotFound, "no such "+what)
}

// storeError answers a failed store call: not found, or unavailable.
func (s *Service) storeError(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(what)
	}
	s.log.Error("store call failed", "err", err)
	return httpx.NewError(fiber.StatusServiceUnavailable, httpx.CodeUnavailable, "the store cannot answer now")
}

// params reads query parameters, refusing any it does not know.
type params map[string][]string

func newParams(c *fiber.Ctx, known ...string) (params, error) {
	if err := httpx.OnlyQuery(c, known...); err != nil {
		return nil, err
	}
	p := params{}
	var empty error
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		// "?user_id=" is a filter whose value got lost on the way, not
		// no filter: answering everything would be the wrong answer.
		if len(v) == 0 && empty == nil && string(k) != "api_key" {
			empty = httpx.BadParameter(string(k), "must not be empty; leave the parameter out instead")
		}
		p[string(k)] = append(p[string(k)], string(v))
	})
	return p, empty
}

func (p params) str(name string) (string, error) {
	switch vs := p[name]; len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", httpx.BadParameter(name, "must be given once")
}

func (p params) list(name string) ([]string, error) {
	var out []string
	for _, v := range p[name] {
		for part := range strings.SplitSeq(v, ",") {
			if part = strings.TrimSpace(part); part == "" {
				return nil, httpx.BadParameter(name, "must not hold an empty item")
			}
			out = append(out, part)
		}
	}
	return out, nil
}

func (p params) boolean(name string) (bool, error) {
	s, err := p.str(name)
	if err != nil || s == "" {
		return false, err
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, httpx.BadParameter(name, "must be true or false")
	}
	return b, nil
}

// time reads a time parameter as httpx.TimeParam does, returning unix ms.
func (p params) time(name string) (int64, error) {
	s, err := p.str(name)
	if err != nil {
		return 0, err
	}
	return httpx.TimeParam(name, s)
}

const (
	defaultLimit = 100
	maxLimit     = 1000
)

func (p params) limit() (int, error) {
	s, err := p.str("limit")
	if err != nil || s == "" {
		return defaultLimit, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, httpx.BadParameter("limit", "must be an integer from 1 to "+strconv.Itoa(maxLimit))
	}
	return n, nil
}

func (s *Service) listAlerts(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	alerts := s.alertsOf(auth.Tenant(c))
	slices.SortFunc(alerts, func(a, b Alert) int {
		return strings.Compare(a.RuleID+"\x00"+a.GroupKey, b.RuleID+"\x00"+b.GroupKey)
	})
	if alerts == nil {
		alerts = []Alert{}
	}
	return c.JSON(fiber.Map{"alerts": alerts})
}
