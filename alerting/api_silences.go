package alerting

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
)

// silenceRequest is a new silence: ends_at, or a duration from starts_at
// (now when unset). The times are read by validate rather than by the
// decoder, so that a time sent as text is named with what to send instead.
type silenceRequest struct {
	Matchers  []store.Matcher `json:"matchers"`
	StartsAt  json.RawMessage `json:"starts_at"`
	EndsAt    json.RawMessage `json:"ends_at"`
	Duration  Duration        `json:"duration"`
	Comment   string          `json:"comment"`
	CreatedBy string          `json:"created_by"`
}

// silenceView is a silence as the API shows it, with where it stands.
type silenceView struct {
	Silence
	State string `json:"state"` // pending, active or expired
}

func (a *api) createSilence(c *fiber.Ctx) error {
	if _, err := query(c); err != nil {
		return err
	}
	var req silenceRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		return err
	}
	now := a.now().UnixMilli()
	sl := Silence{ID: uuid.NewString(), Matchers: req.Matchers, Comment: req.Comment, CreatedBy: req.CreatedBy, CreatedAt: now}
	if errs := sl.validate(req, now); len(errs) > 0 {
		return invalid("silence", errs)
	}
	tenant := auth.Tenant(c)
	ctx := c.UserContext()
	if err := a.makeRoomForSilence(ctx, tenant, now); err != nil {
		return err
	}
	body, err := json.Marshal(&sl)
	if err != nil {
		return fmt.Errorf("encode silence: %w", err)
	}
	doc := store.Document{Tenant: tenant, Kind: kindSilence, ID: sl.ID, Version: nextVersion(0), Body: body, UpdatedAt: now}
	if err := a.docs.PutDocuments(ctx, doc); err != nil {
		return a.storeError(err, "silence")
	}
	return c.Status(fiber.StatusCreated).JSON(silenceView{sl, silenceState(&sl, now)})
}

// validate fills in sl's times from req and lists every problem.
func (sl *Silence) validate(req silenceRequest, now int64) []FieldError {
	var errs []FieldError
	add := func(field, reason string) { errs = append(errs, FieldError{field, reason}) }
	ahead := maxSilenceAhead.Milliseconds()
	var bad string
	if sl.StartsAt, bad = unixMillis(req.StartsAt); bad != "" {
		add("starts_at", bad)
	}
	if sl.EndsAt, bad = unixMillis(req.EndsAt); bad != "" {
		add("ends_at", bad+`; or give duration instead, such as "2h"`)
	}
	if sl.StartsAt == 0 {
		sl.StartsAt = now
	}
	switch {
	case sl.StartsAt < 0:
		add("starts_at", "must not be negative (unix ms)")
	case sl.StartsAt > now+ahead:
		add("starts_at", "must be at most a year ahead")
	}
	if req.Duration != 0 {
		if sl.EndsAt != 0 {
			add("duration", "cannot be given with ends_at")
		}
		if req.Duration <= 0 || req.Duration.D() > maxSilenceAhead {
			add("duration", "must be positive and at most a year")
		} else {
			sl.EndsAt = sl.StartsAt + req.Duration.D().Milliseconds()
		}
	}
	if len(sl.Matchers) == 0 {
		// A silence of everything is almost always a mistake; one that
		// means it can match rule=~".+".
		add("matchers", "must hold at least one matcher")
	} else {
		checkMatchers(add, "matchers", sl.Matchers)
	}
	switch {
	case req.Duration != 0 && sl.EndsAt == 0, hasProblem(errs, "ends_at"):
	case sl.EndsAt == 0:
		add("ends_at", "is required (unix ms), or give duration")
	case sl.EndsAt <= sl.StartsAt:
		add("ends_at", "must be after starts_at")
	case sl.EndsAt <= now:
		add("ends_at", "must be in the future")
	case sl.EndsAt > now+ahead:
		add("ends_at", "must be at most a year ahead")
	}
	if len(sl.Comment) > maxComment {
		add("comment", "must be at most "+itoa(maxComment)+" bytes")
	}
	if len(sl.CreatedBy) > maxCreatedBy {
		add("created_by", "must be at most "+itoa(maxCreatedBy)+" bytes")
	}
	return errs
}

// unixMillis reads a time of a silence request, unix milliseconds as a
// whole number; 0 when absent or null. For any other value it says what
// to send instead.
func unixMillis(raw json.RawMessage) (int64, string) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, ""
	}
	if ms, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return ms, ""
	}
	reason := "must be a time in unix milliseconds, a whole number such as 1767225600000"
	if raw[0] == '"' {
		reason += ", not text"
	}
	return 0, reason
}

func hasProblem(errs []FieldError, field string) bool {
	return slices.ContainsFunc(errs, func(e FieldError) bool { return e.Field == field })
}

// makeRoomForSilence refuses a silence past the tenant's limit, and
// deletes silences expired long enough ago that nobody looks for them:
// without that, every silence ever made would be read at every
// notification.
func (a *api) makeRoomForSilence(ctx context.Context, tenant string, now int64) error {
	sls, err := readSilences(ctx, a.docs, a.log, tenant)
	if err != nil {
		return a.storeError(err, "silence")
	}
	live := 0
	var tombs []store.Document
	for _, sl := range sls {
		switch {
		case sl.EndsAt > now:
			live++
		case sl.EndsAt < now-expiredSilenceKept.Milliseconds():
			tombs = append(tombs, store.Document{Tenant: tenant, Kind: kindSilence, ID: sl.ID, Version: nextVersion(sl.version),
				Body: []byte("{}"), UpdatedAt: now, Deleted: true})
		}
	}
	if len(tombs) > 0 {
		if err := a.docs.PutDocuments(ctx, tombs...); err != nil {
			return a.storeError(err, "silence")
		}
	}
	if live >= maxSilencesPerTenant {
		return conflict("this tenant has " + itoa(live) + " silences that have not expired, the most it may have; delete one first")
	}
	return nil
}

func silenceState(sl *Silence, now int64) string {
	switch {
	case now < sl.StartsAt:
		return "pending"
	case sl.active(now):
		return "active"
	}
	return "expired"
}

func (a *api) listSilences(c *fiber.Ctx) error {
	if _, err := query(c); err != nil {
		return err
	}
	sls, err := readSilences(c.UserContext(), a.docs, a.log, auth.Tenant(c))
	if err != nil {
		return a.storeError(err, "silence")
	}
	now := a.now().UnixMilli()
	views := make([]silenceView, len(sls))
	for i := range sls {
		views[i] = silenceView{sls[i], silenceState(&sls[i], now)}
	}
	slices.SortFunc(views, func(a, b silenceView) int { return cmp.Compare(b.CreatedAt, a.CreatedAt) })
	return c.JSON(fiber.Map{"silences": views})
}

func (a *api) deleteSilence(c *fiber.Ctx) error {
	if _, err := query(c); err != nil {
		return err
	}
	id, err := httpx.Param(c, "id")
	if err != nil {
		return err
	}
	tenant := auth.Tenant(c)
	old, err := a.docs.Document(c.UserContext(), tenant, kindSilence, id)
	if err != nil {
		return a.storeError(err, "silence")
	}
	tomb := store.Document{Tenant: tenant, Kind: kindSilence, ID: id, Version: nextVersion(old.Version), Body: []byte("{}"), UpdatedAt: a.now().UnixMilli(), Deleted: true}
	if err := a.docs.PutDocuments(c.UserContext(), tomb); err != nil {
		return a.storeError(err, "silence")
	}
	return c.SendStatus(fiber.StatusNoContent)
}
