package query

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
)

// dashboardView is a dashboard as the API shows it: the stored record and
// the definition the client saved.
type dashboardView struct {
	ID        string  `json:"id"`
	Title     string  `json:"title"`
	Panels    []panel `json:"panels"`
	Version   int64   `json:"version"`
	CreatedAt int64   `json:"created_at"`
	UpdatedAt int64   `json:"updated_at"`
}

func (s *Service) listDashboards(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	ds, err := s.store.Dashboards(c.UserContext(), auth.Tenant(c))
	if err != nil {
		return s.dashboardError(err, "")
	}
	views := make([]dashboardView, len(ds))
	for i, d := range ds {
		if views[i], err = s.viewDashboard(d); err != nil {
			return err
		}
	}
	return c.JSON(fiber.Map{"dashboards": views})
}

func (s *Service) getDashboard(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	id, err := httpx.Param(c, "id")
	if err != nil {
		return err
	}
	d, err := s.store.Dashboard(c.UserContext(), auth.Tenant(c), id)
	if err != nil {
		return s.dashboardError(err, "")
	}
	return s.answerDashboard(c, fiber.StatusOK, d)
}

func (s *Service) createDashboard(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	def, err := s.readDefinition(c)
	if err != nil {
		return err
	}
	now := s.now().UnixMilli()
	d, err := s.store.CreateDashboard(c.UserContext(), store.Dashboard{
		Tenant: auth.Tenant(c), ID: uuid.Must(uuid.NewV7()).String(), Title: def.Title,
		Definition: def.encode(), CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		return s.dashboardError(err, "")
	}
	c.Location("/v1/dashboards/" + d.ID)
	return s.answerDashboard(c, fiber.StatusCreated, d)
}

// updateDashboard replaces a dashboard's definition. With If-Match the
// store does so only if the stored version is the one the client last
// read, deciding and writing in one step, so that replicas of this
// service cannot both apply an update made from the same version.
func (s *Service) updateDashboard(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	def, err := s.readDefinition(c)
	if err != nil {
		return err
	}
	id, err := httpx.Param(c, "id")
	if err != nil {
		return err
	}
	version, tag := ifMatch(c)
	d, err := s.store.UpdateDashboard(c.UserContext(), store.Dashboard{
		Tenant: auth.Tenant(c), ID: id, Title: def.Title, Definition: def.encode(), UpdatedAt: s.now().UnixMilli(),
	}, version)
	if err != nil {
		return s.dashboardError(err, tag)
	}
	return s.answerDashboard(c, fiber.StatusOK, d)
}

func (s *Service) deleteDashboard(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	id, err := httpx.Param(c, "id")
	if err != nil {
		return err
	}
	version, tag := ifMatch(c)
	if err := s.store.DeleteDashboard(c.UserContext(), auth.Tenant(c), id, version); err != nil {
		return s.dashboardError(err, tag)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// noVersion is a version no dashboard has, for an If-Match that names
// none.
const noVersion = -1

// ifMatch returns the version If-Match names, and the tag as sent; the
// ETag of a dashboard is its version in quotes. Without If-Match, or with
// "*", any version matches.
func ifMatch(c *fiber.Ctx) (int64, string) {
	h := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if h == "" || h == "*" {
		return store.AnyVersion, ""
	}
	tag := strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	v, err := strconv.ParseInt(tag, 10, 64)
	if err != nil || v < 1 || strconv.FormatInt(v, 10) != tag {
		return noVersion, tag
	}
	return v, tag
}

func (s *Service) answerDashboard(c *fiber.Ctx, status int, d store.Dashboard) error {
	v, err := s.viewDashboard(d)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, `"`+strconv.FormatInt(d.Version, 10)+`"`)
	return c.Status(status).JSON(v)
}

func (s *Service) viewDashboard(d store.Dashboard) (dashboardView, error) {
	var def definition
	if err := json.Unmarshal(d.Definition, &def); err != nil {
		s.log.Error("stored dashboard does not decode", "id", d.ID, "err", err)
		return dashboardView{}, httpx.NewError(fiber.StatusInternalServerError, httpx.CodeInternal, "dashboard "+d.ID+" is stored damaged")
	}
	if def.Panels == nil {
		def.Panels = []panel{}
	}
	return dashboardView{ID: d.ID, Title: d.Title, Panels: def.Panels, Version: d.Version, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}, nil
}

// dashboardError answers a failed dashboard read or write; tag is the
// version If-Match named, if any.
func (s *Service) dashboardError(err error, tag string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return httpx.NewError(fiber.StatusNotFound, httpx.CodeNotFound, "no such dashboard")
	case errors.Is(err, store.ErrConflict):
		msg := "the dashboard changed meanwhile"
		if tag != "" {
			msg = "the dashboard is not at version " + tag + " any more"
		}
		return httpx.NewError(fiber.StatusPreconditionFailed, httpx.CodePrecondition, msg+"; read it again before changing it")
	}
	return s.storeError(err)
}
