package stream

import (
	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/httpx"
)

// LegacyPath is where the platform's former progress module served its
// WebSocket: /api/v1/progress/ws?task_id=...&user_id=....
const LegacyPath = "/api/v1/progress/ws"

// LegacyConnect turns a connect request of the former progress module
// into one of /v1/stream, ahead of that route's own handlers: the same
// protocol, auth and tenants. The module's connection followed the task
// it named, and its user_id named the user watching rather than more
// tasks to follow, so with a task_id the user_id is dropped; alone, it
// follows the user's tasks as on /v1/stream.
func LegacyConnect(c *fiber.Ctx) error {
	if err := httpx.OnlyQuery(c, "task_id", "user_id"); err != nil {
		return err
	}
	if args := c.Context().QueryArgs(); args.Has("task_id") {
		args.Del("user_id")
	}
	return c.Next()
}
