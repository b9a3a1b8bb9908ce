package tasks

import "github.com/gofiber/fiber/v2"

// legacyPrefix is where the platform's former progress module served its
// task routes. Its callers keep working unchanged: each of its write
// routes is a native one under another path, with the same bodies, auth,
// tenants and errors. Its reads (GET .../tasks, GET .../tasks/{id}) are
// the query service's and its WebSocket the stream service's, mounted
// beside their native routes.
const legacyPrefix = "/api/v1/progress/tasks"

var legacyRoutes = []route{
	{fiber.MethodPost, legacyPrefix, single(opCreate)},
	{fiber.MethodPatch, legacyPrefix + "/:id/progress", single(opUpdate)},
	{fiber.MethodPost, legacyPrefix + "/:id/complete", single(opComplete)},
	{fiber.MethodPost, legacyPrefix + "/:id/fail", single(opFail)},
	{fiber.MethodPost, legacyPrefix + "/:id/cancel", single(opCancel)},
}
