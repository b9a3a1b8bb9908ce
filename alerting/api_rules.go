package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
)

func (a *api) listRules(c *fiber.Ctx) error {
	if _, err := query(c); err != nil {
		return err
	}
	tenant := auth.Tenant(c)
	rules := []Rule{}
	for _, r := range a.rules.all() {
		if r.Tenant == tenant {
			rules = append(rules, r.Rule)
		}
	}
	return c.JSON(fiber.Map{"rules": rules})
}

func (a *api) getRule(c *fiber.Ctx) error {
	if _, err := query(c); err != nil {
		return err
	}
	id, err := httpx.Param(c, "id")
	if err != nil {
		return err
	}
	r := a.rules.get(auth.Tenant(c), id)
	if r == nil {
		return notFound("alert rule")
	}
	return c.JSON(r.Rule)
}

// ruleFromBody decodes and checks a rule sent to the API.
func (a *api) ruleFromBody(c *fiber.Ctx, id string) (Rule, error) {
	var r Rule
	if err := httpx.DecodeJSON(c, &r); err != nil {
		return r, err
	}
	if id != "" {
		id = strings.Clone(id) // Fiber reuses the buffer; the rule outlives the request
		if r.ID != "" && r.ID != id {
			return r, invalid("alert rule", []FieldError{{"id", "must match the id in the path, or be left out"}})
		}
		r.ID = id
	}
	if r.ID == "" {
		r.ID = uuid.NewString()
	}
	r.Tenant, r.Source = auth.Tenant(c), SourceAPI
	r.fillDefaults(a.cfg)
	channels, err := a.usableChannels(c.UserContext(), r.Tenant)
	if err != nil {
		return r, a.storeError(err, "alert channel")
	}
	env := ruleEnv{channels: channels, hasSeries: a.hasSeries, hasLogs: a.hasLogs, api: true}
	if errs := r.validate(env); len(errs) > 0 {
		return r, invalid("alert rule", errs)
	}
	return r, nil
}

func (a *api) createRule(c *fiber.Ctx) error {
	if _, err := query(c); err != nil {
		return err
	}
	r, err := a.ruleFromBody(c, "")
	if err != nil {
		return err
	}
	others, ok := a.changing.begin(kindRule, r.Tenant, r.ID, true)
	if !ok {
		return busy("alert rule", r.ID)
	}
	defer a.changing.end(kindRule, r.Tenant, r.ID, true)
	ctx := c.UserContext()
	if err := a.checkWritable(ctx, r.Tenant, r.ID, false, others); err != nil {
		return err
	}
	if err := a.putRule(ctx, &r, 0); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(r)
}

func (a *api) updateRule(c *fiber.Ctx) error {
	if _, err := query(c); err != nil {
		return err
	}
	id, err := httpx.Param(c, "id")
	if err != nil {
		return err
	}
	r, err := a.ruleFromBody(c, id)
	if err != nil {
		return err
	}
	if _, ok := a.changing.begin(kindRule, r.Tenant, r.ID, false); !ok {
		return busy("alert rule", r.ID)
	}
	defer a.changing.end(kindRule, r.Tenant, r.ID, false)
	ctx := c.UserContext()
	if err := a.checkWritable(ctx, r.Tenant, r.ID, true, 0); err != nil {
		return err
	}
	old, err := a.docs.Document(ctx, r.Tenant, kindRule, r.ID)
	if err != nil {
		return a.storeError(err, "alert rule")
	}
	if err := a.putRule(ctx, &r, old.Version); err != nil {
		return err
	}
	return c.JSON(r)
}

func (a *api) deleteRule(c *fiber.Ctx) error {
	if _, err := query(c); err != nil {
		return err
	}
	id, err := httpx.Param(c, "id")
	if err != nil {
		return err
	}
	tenant := auth.Tenant(c)
	if _, ok := a.changing.begin(kindRule, tenant, id, false); !ok {
		return busy("alert rule", id)
	}
	defer a.changing.end(kindRule, tenant, id, false)
	ctx := c.UserContext()
	if err := a.checkWritable(ctx, tenant, id, true, 0); err != nil {
		return err
	}
	old, err := a.docs.Document(ctx, tenant, kindRule, id)
	if err != nil {
		return a.storeError(err, "alert rule")
	}
	tomb := store.Document{Tenant: tenant, Kind: kindRule, ID: id, Version: nextVersion(old.Version), Body: []byte("{}"), UpdatedAt: a.now().UnixMilli(), Deleted: true}
	if err := a.docs.PutDocuments(ctx, tomb); err != nil {
		return a.storeError(err, "alert rule")
	}
	a.rules.deleteAPI(tenant, id)
	return c.SendStatus(fiber.StatusNoContent)
}

// checkWritable refuses changes to rules of the rules file, and, for a new
// rule, an id already in use or a place past the tenant's limit, counting
// the others being created.
func (a *api) checkWritable(ctx context.Context, tenant, id string, exists bool, others int) error {
	if r := a.rules.get(tenant, id); r != nil && r.Source == SourceFile {
		return conflict("alert rule " + id + " comes from the rules file and cannot be changed through the API")
	}
	if exists {
		return nil
	}
	_, err := a.docs.Document(ctx, tenant, kindRule, id)
	switch {
	case err == nil:
		return conflict("alert rule " + id + " exists; change it with PUT")
	case !errors.Is(err, store.ErrNotFound):
		return a.storeError(err, "alert rule")
	}
	docs, err := a.docs.Documents(ctx, tenant, kindRule)
	if err != nil {
		return a.storeError(err, "alert rule")
	}
	if n := len(docs) + others; n >= maxRulesPerTenant {
		return conflict("this tenant has " + itoa(n) + " alert rules, the most it may have; delete one first")
	}
	return nil
}

// putRule stores r as the next version after old and puts it in force on
// this process at once (others pick it up at their next refresh).
func (a *api) putRule(ctx context.Context, r *Rule, old int64) error {
	r.Version, r.UpdatedAt = nextVersion(old), a.now().UnixMilli()
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode alert rule: %w", err)
	}
	doc := store.Document{Tenant: r.Tenant, Kind: kindRule, ID: r.ID, Version: r.Version, Body: body, UpdatedAt: r.UpdatedAt}
	if err := a.docs.PutDocuments(ctx, doc); err != nil {
		return a.storeError(err, "alert rule")
	}
	c, err := compile(*r)
	if err != nil {
		panic("BUG: a validated rule does not compile: " + err.Error())
	}
	a.rules.putAPI(c)
	return nil
}

// usableChannels are the channel names a rule of tenant made through the
// API may use: the tenant's own and the rules file's shared with it.
func (a *api) usableChannels(ctx context.Context, tenant string) (map[string]bool, error) {
	own, err := tenantChannels(ctx, a.docs, a.log, tenant)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, c := range own {
		names[c.Name] = true
	}
	for _, n := range a.rules.sharedChannels(tenant) {
		names[n] = true
	}
	return names, nil
}
