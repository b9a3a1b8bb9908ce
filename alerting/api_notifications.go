package alerting

import (
	"cmp"
	"encoding/json"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/schema"
)

// listNotifications lists a tenant's notifications, newest first. It reads
// every stored notification of the tenant and filters in memory, which
// suits the small volumes notifications come in.
func (s *Service) listNotifications(c *fiber.Ctx) error {
	p, err := newParams(c, "user_id", "unread", "severity", "since", "until", "limit")
	if err != nil {
		return err
	}
	userID, err := p.str("user_id")
	if err != nil {
		return err
	}
	unread, err := p.boolean("unread")
	if err != nil {
		return err
	}
	var severities []schema.Severity
	list, err := p.list("severity")
	if err != nil {
		return err
	}
	for _, v := range list {
		if !schema.Severity(v).Valid() {
			return httpx.BadParameter("severity", "must be among info, warning, critical")
		}
		severities = append(severities, schema.Severity(v))
	}
	since, err := p.time("since")
	if err != nil {
		return err
	}
	until, err := p.time("until")
	if err != nil {
		return err
	}
	limit, err := p.limit()
	if err != nil {
		return err
	}
	docs, err := s.docs.Documents(c.UserContext(), auth.Tenant(c), kindNotification)
	if err != nil {
		return s.storeError(err, "notification")
	}
	out := []schema.Notification{}
	for _, d := range docs {
		var n schema.Notification
		if err := json.Unmarshal(d.Body, &n); err != nil {
			s.log.Warn("skipping a notification that does not decode", "id", d.ID, "err", err)
			continue
		}
		switch {
		case userID != "" && n.UserID != userID,
			unread && n.ReadAt != 0,
			len(severities) > 0 && !slices.Contains(severities, n.Severity),
			since != 0 && n.CreatedAt < since,
			until != 0 && n.CreatedAt >= until:
			continue
		}
		n.Tenant = ""
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b schema.Notification) int {
		return cmp.Or(cmp.Compare(b.CreatedAt, a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return c.JSON(fiber.Map{"notifications": out})
}

func (s *Service) readNotificationRoute(c *fiber.Ctx) error {
	if _, err := newParams(c); err != nil {
		return err
	}
	now := s.now().UnixMilli()
	id, err := httpx.Param(c, "id")
	if err != nil {
		return err
	}
	n, err := s.updateNotification(c.UserContext(), auth.Tenant(c), id, func(n *schema.Notification) bool {
		if n.ReadAt != 0 {
			return false
		}
		n.ReadAt = now
		return true
	})
	if err != nil {
		return s.storeError(err, "notification")
	}
	n.Tenant = ""
	return c.JSON(n)
}
