package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
)

func (a *api) listChannels(c *fiber.Ctx) error {
	if _, err := query(c); err != nil {
		return err
	}
	chs, err := tenantChannels(c.UserContext(), a.docs, a.log, auth.Tenant(c))
	if err != nil {
		return a.storeError(err, "alert channel")
	}
	out := make([]Channel, len(chs))
	for i, ch := range chs {
		out[i] = ch.redacted()
	}
	return c.JSON(fiber.Map{"channels": out})
}

func (a *api) getChannel(c *fiber.Ctx) error {
	if _, err := query(c); err != nil {
		return err
	}
	name, err := httpx.Param(c, "name")
	if err != nil {
		return err
	}
	ch, err := a.readChannel(c.UserContext(), auth.Tenant(c), name)
	if err != nil {
		return err
	}
	return c.JSON(ch.redacted())
}

func (a *api) readChannel(ctx context.Context, tenant, name string) (Channel, error) {
	d, err := a.docs.Document(ctx, tenant, kindChannel, name)
	if err != nil {
		return Channel{}, a.storeError(err, "alert channel")
	}
	ch, err := decodeChannel(d)
	if err != nil {
		return ch, a.storeError(err, "alert channel")
	}
	return ch, nil
}

// channelFromBody decodes a channel sent to the API; name is the path's
// on PUT.
func channelFromBody(c *fiber.Ctx, name string) (Channel, error) {
	var ch Channel
	if err := httpx.DecodeJSON(c, &ch); err != nil {
		return ch, err
	}
	if name != "" {
		if ch.Name != "" && ch.Name != name {
			return ch, invalid("alert channel", []FieldError{{"name", "must match the name in the path, or be left out"}})
		}
		ch.Name = name
	}
	return ch, nil
}

func (a *api) createChannel(c *fiber.Ctx) error {
	if _, err := query(c); err != nil {
		return err
	}
	ch, err := channelFromBody(c, "")
	if err != nil {
		return err
	}
	tenant, ctx := auth.Tenant(c), c.UserContext()
	if errs := ch.validate(ctx, a.policy); len(errs) > 0 {
		return invalid("alert channel", errs)
	}
	others, ok := a.changing.begin(kindChannel, tenant, ch.Name, true)
	if !ok {
		return busy("alert channel", ch.Name)
	}
	defer a.changing.end(kindChannel, tenant, ch.Name, true)
	own, err := tenantChannels(ctx, a.docs, a.log, tenant)
	if err != nil {
		return a.storeError(err, "alert channel")
	}
	if slices.ContainsFunc(own, func(o Channel) bool { return o.Name == ch.Name }) {
		return conflict("alert channel " + ch.Name + " exists; change it with PUT")
	}
	if n := len(own) + others; n >= maxChannelsPerTenant {
		return conflict("this tenant has " + itoa(n) + " alert channels, the most it may have; delete one first")
	}
	if err := a.putChannel(ctx, tenant, &ch, 0); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(ch.redacted())
}

func (a *api) updateChannel(c *fiber.Ctx) error {
	if _, err := query(c); err != nil {
		return err
	}
	name, err := httpx.Param(c, "name")
	if err != nil {
		return err
	}
	ch, err := channelFromBody(c, name)
	if err != nil {
		return err
	}
	tenant, ctx := auth.Tenant(c), c.UserContext()
	old, err := a.readChannel(ctx, tenant, name)
	if err != nil {
		return err
	}
	ch.keepSecrets(old)
	// Checking hosts resolves names, which a tenant can make slow: done
	// before the change begins, so it holds up no other request.
	if errs := ch.validate(ctx, a.policy); len(errs) > 0 {
		return invalid("alert channel", errs)
	}
	if _, ok := a.changing.begin(kindChannel, tenant, name, false); !ok {
		return busy("alert channel", name)
	}
	defer a.changing.end(kindChannel, tenant, name, false)
	if old, err = a.readChannel(ctx, tenant, name); err != nil {
		return err
	}
	if err := a.putChannel(ctx, tenant, &ch, old.Version); err != nil {
		return err
	}
	return c.JSON(ch.redacted())
}

func (a *api) deleteChannel(c *fiber.Ctx) error {
	if _, err := query(c); err != nil {
		return err
	}
	name, err := httpx.Param(c, "name")
	if err != nil {
		return err
	}
	tenant, ctx := auth.Tenant(c), c.UserContext()
	if _, ok := a.changing.begin(kindChannel, tenant, name, false); !ok {
		return busy("alert channel", name)
	}
	defer a.changing.end(kindChannel, tenant, name, false)
	old, err := a.readChannel(ctx, tenant, name)
	if err != nil {
		return err
	}
	users, err := a.rulesUsing(ctx, tenant, name)
	if err != nil {
		return a.storeError(err, "alert rule")
	}
	if len(users) > 0 {
		return conflict("alert channel " + name + " is used by alert rules " + strings.Join(users, ", ") + "; change them first")
	}
	tomb := store.Document{Tenant: tenant, Kind: kindChannel, ID: name, Version: nextVersion(old.Version), Body: []byte("{}"),
		UpdatedAt: a.now().UnixMilli(), Deleted: true}
	if err := a.docs.PutDocuments(ctx, tomb); err != nil {
		return a.storeError(err, "alert channel")
	}
	a.forgetSender(tenant, name)
	return c.SendStatus(fiber.StatusNoContent)
}

// putChannel stores ch as the next version after old.
func (a *api) putChannel(ctx context.Context, tenant string, ch *Channel, old int64) error {
	ch.Version, ch.UpdatedAt = nextVersion(old), a.now().UnixMilli()
	body, err := json.Marshal(ch)
	if err != nil {
		return fmt.Errorf("encode alert channel: %w", err)
	}
	doc := store.Document{Tenant: tenant, Kind: kindChannel, ID: ch.Name, Version: ch.Version, Body: body, UpdatedAt: ch.UpdatedAt}
	if err := a.docs.PutDocuments(ctx, doc); err != nil {
		return a.storeError(err, "alert channel")
	}
	return nil
}

// rulesUsing lists the tenant's API rules that name channel, as stored,
// so a rule made on another process a moment ago counts too.
func (a *api) rulesUsing(ctx context.Context, tenant, name string) ([]string, error) {
	docs, err := a.docs.Documents(ctx, tenant, kindRule)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, d := range docs {
		var r Rule
		if err := json.Unmarshal(d.Body, &r); err != nil {
			continue
		}
		if slices.Contains(r.Channels, name) {
			ids = append(ids, d.ID)
		}
	}
	return ids, nil
}
