package alerting

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
)

// silenceRequest is a new silence: ends_at, or a duration from starts_at
// (now when unset).
type silenceRequest struct {
	Matchers  []store.Matcher `json:"matchers"`
	StartsAt  int64           `json:"starts_at"`
	EndsAt    int64           `json:"ends_at"`
	Duration  Duration        `json:"duration"`
	Comment   string          `json:"comment"`
	CreatedBy string          `json:"created_by"`
}

// silenceView is a silence as the API shows it, with where it stands.
type silenceView struct {
	Silence
	State string `json:"state"` // pending, active or expired
}

func (s *Service) createSilence(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	var req silenceRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	now := s.now().UnixMilli()
	sl := Silence{ID: uuid.NewString(), Matchers: req.Matchers, StartsAt: req.StartsAt, EndsAt: req.EndsAt,
		Comment: req.Comment, CreatedBy: req.CreatedBy, CreatedAt: now}
	if sl.StartsAt == 0 {
		sl.StartsAt = now
	}
	var errs []FieldError
	if req.Duration != 0 {
		if req.EndsAt != 0 {
			errs = append(errs, FieldError{"duration", "cannot be given with ends_at"})
		}
		sl.EndsAt = sl.StartsAt + req.Duration.D().Milliseconds()
	}
	if len(sl.Matchers) == 0 {
		// A silence of everything is almost always a mistake; one that
		// means it can match rule=~".+".
		errs = append(errs, FieldError{"matchers", "must hold at least one matcher"})
	} else if _, err := compileMatchers(sl.Matchers); err != nil {
		errs = append(errs, FieldError{"matchers", err.Error()})
	}
	switch {
	case sl.EndsAt == 0:
		errs = append(errs, FieldError{"ends_at", "is required (unix ms), or give duration"})
	case sl.EndsAt <= sl.StartsAt:
		errs = append(errs, FieldError{"ends_at", "must be after starts_at"})
	case sl.EndsAt <= now:
		errs = append(errs, FieldError{"ends_at", "must be in the future"})
	}
	if len(errs) > 0 {
		return invalid("silence", errs)
	}
	body, err := json.Marshal(&sl)
	if err != nil {
		return fmt.Errorf("encode silence: %w", err)
	}
	doc := store.Document{Tenant: auth.Tenant(c), Kind: kindSilence, ID: sl.ID, Version: nextVersion(0), Body: body, UpdatedAt: now}
	if err := s.docs.PutDocuments(c.UserContext(), doc); err != nil {
		return s.storeError(err, "silence")
	}
	return c.Status(fiber.StatusCreated).JSON(silenceView{sl, silenceState(&sl, now)})
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

func (s *Service) listSilences(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	sls, err := s.silences(c.UserContext(), auth.Tenant(c))
	if err != nil {
		return s.storeError(err, "silence")
	}
	now := s.now().UnixMilli()
	views := make([]silenceView, len(sls))
	for i := range sls {
		views[i] = silenceView{sls[i], silenceState(&sls[i], now)}
	}
	slices.SortFunc(views, func(a, b silenceView) int { return cmp.Compare(b.CreatedAt, a.CreatedAt) })
	return c.JSON(fiber.Map{"silences": views})
}

func (s *Service) deleteSilence(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	id, err := httpx.Param(c, "id")
	if err != nil {
		return err
	}
	tenant := auth.Tenant(c)
	old, err := s.docs.Document(c.UserContext(), tenant, kindSilence, id)
	if err != nil {
		return s.storeError(err, "silence")
	}
	tomb := store.Document{Tenant: tenant, Kind: kindSilence, ID: id, Version: nextVersion(old.Version), Body: []byte("{}"), UpdatedAt: s.now().UnixMilli(), Deleted: true}
	if err := s.docs.PutDocuments(c.UserContext(), tomb); err != nil {
		return s.storeError(err, "silence")
	}
	return c.SendStatus(fiber.StatusNoContent)
}
