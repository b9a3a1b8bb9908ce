package apidoc

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

//go:embed openapi.json
var document []byte

// Routes mounts GET /openapi.json on r. The document is public, as are
// /metrics and /healthz: it describes the API, not any tenant's data.
func Routes(r fiber.Router) {
	r.Get("/openapi.json", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(document)
	})
}
