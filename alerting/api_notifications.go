package alerting

import (
	"cmp"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/schema"
)

// listNotifications lists a tenant's notifications, newest first, and
// counts the unread ones among those the filters other than unread and
// limit select, so that a badge needs no second request and no page as
// long as the list. It reads every stored notification of the tenant and
// filters in memory, which suits the small volumes notifications come in.
func (a *api) listNotifications(c *fiber.Ctx) error {
	q, err := query(c, "user_id", "unread", "severity", "since", "until", "limit")
	if err != nil {
		return err
	}
	userID, err := q.Str("user_id")
	if err != nil {
		return err
	}
	unread, err := q.Bool("unread")
	if err != nil {
		return err
	}
	var severities []schema.Severity
	list, err := q.List("severity")
	if err != nil {
		return err
	}
	for _, v := range list {
		if !schema.Severity(v).Valid() {
			return httpx.BadParameter("severity", "must be among info, warning, critical")
		}
		severities = append(severities, schema.Severity(v))
	}
	since, err := q.Time("since")
	if err != nil {
		return err
	}
	until, err := q.Time("until")
	if err != nil {
		return err
	}
	limit, err := q.Limit()
	if err != nil {
		return err
	}
	all, err := a.notes.list(c.UserContext(), auth.Tenant(c))
	if err != nil {
		return a.storeError(err, "notification")
	}
	out := []schema.Notification{}
	unreadCount := 0
	for _, n := range all {
		switch {
		case userID != "" && n.UserID != userID,
			len(severities) > 0 && !slices.Contains(severities, n.Severity),
			since != 0 && n.CreatedAt < since,
			until != 0 && n.CreatedAt >= until:
			continue
		}
		if n.ReadAt == 0 {
			unreadCount++
		} else if unread {
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
	return c.JSON(fiber.Map{"notifications": out, "unread": unreadCount})
}

// markRead marks a notification read.
func (a *api) markRead(c *fiber.Ctx) error {
	if _, err := query(c); err != nil {
		return err
	}
	now := a.now().UnixMilli()
	id, err := httpx.Param(c, "id")
	if err != nil {
		return err
	}
	n, err := a.notes.update(c.UserContext(), auth.Tenant(c), id, func(n *schema.Notification) bool {
		if n.ReadAt != 0 {
			return false
		}
		n.ReadAt = now
		return true
	})
	if err != nil {
		return a.storeError(err, "notification")
	}
	n.Tenant = ""
	return c.JSON(n)
}
