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

func (s *Service) listRules(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	tenant := auth.Tenant(c)
	rules := []Rule{}
	for _, r := range s.rules.all() {
		if r.Tenant == tenant {
			rules = append(rules, r.Rule)
		}
	}
	return c.JSON(fiber.Map{"rules": rules})
}

func (s *Service) getRule(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	id, err := httpx.Param(c, "id")
	if err != nil {
		return err
	}
	r := s.rules.get(auth.Tenant(c), id)
	if r == nil {
		return notFound("alert rule")
	}
	return c.JSON(r.Rule)
}

// ruleFromBody decodes and checks a rule sent to the API.
func (s *Service) ruleFromBody(c *fiber.Ctx, id string) (Rule, error) {
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
	r.fillDefaults(&s.cfg)
	channels, err := s.usableChannels(c.UserContext(), r.Tenant)
	if err != nil {
		return r, s.storeError(err, "alert channel")
	}
	env := ruleEnv{channels: channels, hasSeries: s.series != nil, hasLogs: s.logs != nil, api: true}
	if errs := r.validate(env); len(errs) > 0 {
		return r, invalid("alert rule", errs)
	}
	return r, nil
}

func (s *Service) createRule(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	r, err := s.ruleFromBody(c, "")
	if err != nil {
		return err
	}
	s.rulesMu.Lock()
	defer s.rulesMu.Unlock()
	ctx := c.UserContext()
	if err := s.checkWritable(ctx, r.Tenant, r.ID, false); err != nil {
		return err
	}
	if err := s.putRule(ctx, &r, 0); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(r)
}

func (s *Service) updateRule(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	id, err := httpx.Param(c, "id")
	if err != nil {
		return err
	}
	r, err := s.ruleFromBody(c, id)
	if err != nil {
		return err
	}
	s.rulesMu.Lock()
	defer s.rulesMu.Unlock()
	ctx := c.UserContext()
	if err := s.checkWritable(ctx, r.Tenant, r.ID, true); err != nil {
		return err
	}
	old, err := s.docs.Document(ctx, r.Tenant, kindRule, r.ID)
	if err != nil {
		return s.storeError(err, "alert rule")
	}
	if err := s.putRule(ctx, &r, old.Version); err != nil {
		return err
	}
	return c.JSON(r)
}

func (s *Service) deleteRule(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	id, err := httpx.Param(c, "id")
	if err != nil {
		return err
	}
	tenant := auth.Tenant(c)
	s.rulesMu.Lock()
	defer s.rulesMu.Unlock()
	ctx := c.UserContext()
	if err := s.checkWritable(ctx, tenant, id, true); err != nil {
		return err
	}
	old, err := s.docs.Document(ctx, tenant, kindRule, id)
	if err != nil {
		return s.storeError(err, "alert rule")
	}
	tomb := store.Document{Tenant: tenant, Kind: kindRule, ID: id, Version: nextVersion(old.Version), Body: []byte("{}"), UpdatedAt: s.now().UnixMilli(), Deleted: true}
	if err := s.docs.PutDocuments(ctx, tomb); err != nil {
		return s.storeError(err, "alert rule")
	}
	s.rules.deleteAPI(tenant, id)
	return c.SendStatus(fiber.StatusNoContent)
}

// checkWritable refuses changes to rules of the rules file, and, for a new
// rule, an id already in use.
func (s *Service) checkWritable(ctx context.Context, tenant, id string, exists bool) error {
	if r := s.rules.get(tenant, id); r != nil && r.Source == SourceFile {
		return conflict("alert rule " + id + " comes from the rules file and cannot be changed through the API")
	}
	if exists {
		return nil
	}
	_, err := s.docs.Document(ctx, tenant, kindRule, id)
	switch {
	case err == nil:
		return conflict("alert rule " + id + " exists; change it with PUT")
	case !errors.Is(err, store.ErrNotFound):
		return s.storeError(err, "alert rule")
	}
	docs, err := s.docs.Documents(ctx, tenant, kindRule)
	if err != nil {
		return s.storeError(err, "alert rule")
	}
	if len(docs) >= maxRulesPerTenant {
		return conflict("this tenant has " + itoa(len(docs)) + " alert rules, the most it may have; delete one first")
	}
	return nil
}

// putRule stores r as the next version after old and puts it in force on
// this process at once (others pick it up at their next refresh).
func (s *Service) putRule(ctx context.Context, r *Rule, old int64) error {
	r.Version, r.UpdatedAt = nextVersion(old), s.now().UnixMilli()
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode alert rule: %w", err)
	}
	doc := store.Document{Tenant: r.Tenant, Kind: kindRule, ID: r.ID, Version: r.Version, Body: body, UpdatedAt: r.UpdatedAt}
	if err := s.docs.PutDocuments(ctx, doc); err != nil {
		return s.storeError(err, "alert rule")
	}
	c, err := compile(*r)
	if err != nil {
		panic("BUG: a validated rule does not compile: " + err.Error())
	}
	s.rules.putAPI(c)
	return nil
}
