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
	ds, err := s.dashboards.Dashboards(c.UserContext(), auth.Tenant(c))
	if err != nil {
		return s.dashboardError(err)
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
	d, err := s.dashboards.Dashboard(c.UserContext(), auth.Tenant(c), id)
	if err != nil {
		return s.dashboardError(err)
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
	d := store.Dashboard{
		Tenant: auth.Tenant(c), ID: uuid.Must(uuid.NewV7()).String(), Title: def.Title,
		Definition: def.encode(), Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.dashboards.PutDashboard(c.UserContext(), d); err != nil {
		return s.dashboardError(err)
	}
	c.Location("/v1/dashboards/" + d.ID)
	return s.answerDashboard(c, fiber.StatusCreated, d)
}

// updateDashboard replaces a dashboard's definition. With If-Match it does
// so only if the stored version is the one the client last read.
func (s *Service) updateDashboard(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	def, err := s.readDefinition(c)
	if err != nil {
		return err
	}
	s.dashboardWrites.Lock()
	defer s.dashboardWrites.Unlock()
	id, err := httpx.Param(c, "id")
	if err != nil {
		return err
	}
	d, err := s.dashboards.Dashboard(c.UserContext(), auth.Tenant(c), id)
	if err != nil {
		return s.dashboardError(err)
	}
	if err := checkIfMatch(c, d.Version); err != nil {
		return err
	}
	d.Tenant, d.Title, d.Definition = auth.Tenant(c), def.Title, def.encode()
	d.Version++
	d.UpdatedAt = max(s.now().UnixMilli(), d.UpdatedAt)
	if err := s.dashboards.PutDashboard(c.UserContext(), d); err != nil {
		return s.dashboardError(err)
	}
	return s.answerDashboard(c, fiber.StatusOK, d)
}

func (s *Service) deleteDashboard(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	s.dashboardWrites.Lock()
	defer s.dashboardWrites.Unlock()
	id, err := httpx.Param(c, "id")
	if err != nil {
		return err
	}
	tenant := auth.Tenant(c)
	if c.Get(fiber.HeaderIfMatch) != "" {
		d, err := s.dashboards.Dashboard(c.UserContext(), tenant, id)
		if err != nil {
			return s.dashboardError(err)
		}
		if err := checkIfMatch(c, d.Version); err != nil {
			return err
		}
	}
	if err := s.dashboards.DeleteDashboard(c.UserContext(), tenant, id); err != nil {
		return s.dashboardError(err)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// checkIfMatch compares If-Match, when sent, with the stored version; the
// ETag of a dashboard is its version in quotes.
func checkIfMatch(c *fiber.Ctx, version int64) error {
	h := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if h == "" || h == "*" {
		return nil
	}
	want := strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	if want != strconv.FormatInt(version, 10) {
		return httpx.NewError(fiber.StatusPreconditionFailed, httpx.CodePrecondition,
			"the dashboard is at version "+strconv.FormatInt(version, 10)+", not "+want+"; read it again before changing it")
	}
	return nil
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

func (s *Service) dashboardError(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return httpx.NewError(fiber.StatusNotFound, httpx.CodeNotFound, "no such dashboard")
	}
	return s.storeError(err)
}
