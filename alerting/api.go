package alerting

import (
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/alerting/channel"
	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
)

// codeConflict answers a change that the current state forbids: editing a
// rule of the rules file, making a rule whose id is taken, deleting a
// channel in use, going past a tenant's limit.
const codeConflict = "conflict"

// alertsFunc lists a tenant's alerts.
type alertsFunc func(tenant string) []Alert

// api is the HTTP API: rules, silences and channels made by tenants, and
// the alerts and notifications they can read.
type api struct {
	cfg    *Config
	docs   store.DocumentStore
	rules  *registry
	notes  *noteStore
	policy *channel.Policy
	alerts alertsFunc
	// forgetSender drops what the deliverer keeps of a deleted channel.
	forgetSender func(tenant, name string)
	hasSeries    bool
	hasLogs      bool
	log          *slog.Logger
	now          func() time.Time

	changing changes
}

// Routes mounts the alerting API on r, which must already run
// auth.Middleware.
func (s *Service) Routes(r fiber.Router) { s.api.routes(r) }

func (a *api) routes(r fiber.Router) {
	r.Get("/v1/alert-rules", a.listRules)
	r.Post("/v1/alert-rules", a.createRule)
	r.Get("/v1/alert-rules/:id", a.getRule)
	r.Put("/v1/alert-rules/:id", a.updateRule)
	r.Delete("/v1/alert-rules/:id", a.deleteRule)
	r.Get("/v1/alerts", a.listAlerts)
	r.Get("/v1/silences", a.listSilences)
	r.Post("/v1/silences", a.createSilence)
	r.Delete("/v1/silences/:id", a.deleteSilence)
	r.Get("/v1/alert-channels", a.listChannels)
	r.Post("/v1/alert-channels", a.createChannel)
	r.Get("/v1/alert-channels/:name", a.getChannel)
	r.Put("/v1/alert-channels/:name", a.updateChannel)
	r.Delete("/v1/alert-channels/:name", a.deleteChannel)
	r.Get("/v1/notifications", a.listNotifications)
	r.Post("/v1/notifications/:id/read", a.markRead)
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
func (a *api) storeError(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(what)
	}
	a.log.Error("store call failed", "err", err)
	return httpx.NewError(fiber.StatusServiceUnavailable, httpx.CodeUnavailable, "the store cannot answer now")
}

// query reads a request's query parameters, refusing any not known.
func query(c *fiber.Ctx, known ...string) (*httpx.Query, error) {
	return httpx.NewQuery(c, httpx.QueryRules{}, known...)
}

func (a *api) listAlerts(c *fiber.Ctx) error {
	if _, err := query(c); err != nil {
		return err
	}
	tenant := auth.Tenant(c)
	alerts := a.alerts(tenant)
	slices.SortFunc(alerts, func(a, b Alert) int {
		return strings.Compare(a.RuleID+"\x00"+a.GroupKey, b.RuleID+"\x00"+b.GroupKey)
	})
	views, err := silenceAlerts(c.UserContext(), a.docs, a.log, tenant, alerts, a.now().UnixMilli())
	if err != nil {
		return a.storeError(err, "silence")
	}
	return c.JSON(fiber.Map{"alerts": views})
}

// changes are the changes of rules and channels under way on this
// process. A change checks the store (is the name taken, is the tenant
// at its limit) and then writes, and no lock spans those calls; so two
// changes of one name never run at once, and a creation counts the
// others in flight for its tenant.
type changes struct {
	mu       sync.Mutex
	names    map[change]bool
	creating map[[2]string]int // kind and tenant: creations under way
}

type change struct{ kind, tenant, name string }

// begin starts a change of kind's name of tenant, a creation when create.
// It returns false when name is being changed already, or else the
// number of other creations of kind under way for tenant; end must
// follow.
func (cs *changes) begin(kind, tenant, name string, create bool) (int, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	k := change{kind, tenant, name}
	if cs.names[k] {
		return 0, false
	}
	if cs.names == nil {
		cs.names, cs.creating = map[change]bool{}, map[[2]string]int{}
	}
	cs.names[k] = true
	others := cs.creating[[2]string{kind, tenant}]
	if create {
		cs.creating[[2]string{kind, tenant}]++
	}
	return others, true
}

func (cs *changes) end(kind, tenant, name string, create bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.names, change{kind, tenant, name})
	if create {
		k := [2]string{kind, tenant}
		if cs.creating[k]--; cs.creating[k] == 0 {
			delete(cs.creating, k)
		}
	}
}

// busy answers a change of a name that another request is changing.
func busy(what, name string) error {
	return conflict(what + " " + name + " is being changed by another request; try again")
}
