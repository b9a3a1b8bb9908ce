package ingest

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/ingest/otlp"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/schema"
)

// OTLP over HTTP (OTLP/HTTP 1.x): a POST whose body is an export in
// protobuf or in OTLP's JSON mapping, answered with the matching
// Export…Response in the request's encoding. Package otlp reads the
// exports; these handlers answer and publish.

// OpenTelemetry exporters told only a base URL (OTEL_EXPORTER_OTLP_ENDPOINT)
// post to OTLP/HTTP's default paths, /v1/logs and /v1/metrics, which are
// also the paths of TaskPulse's own bodies. otlpOr tells the two apart
// per request: protobuf by its Content-Type, which no TaskPulse body has,
// and OTLP JSON by the export's top-level key. Everything else is the
// native handler's, unchanged.

// otlpOr serves a default path: an OTLP export with exportHandler, which
// reads an export whose top-level key is key, and any other body with
// native. An export takes no query parameters, as on /v1/otlp/...
func otlpOr(key string, exportHandler, native fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !isExport(c.Get(fiber.HeaderContentType), c.Body(), key) {
			return native(c)
		}
		if err := httpx.OnlyQuery(c); err != nil {
			return err
		}
		return exportHandler(c)
	}
}

// isExport reports whether a request is an OTLP export: protobuf, or JSON
// whose first key is key, where an exporter writes an export's one field.
// It looks at the media type without parsing its parameters and at the
// body no further than its first key, so that a TaskPulse body pays a few
// comparisons; the handler it picks parses the Content-Type in full and
// refuses a malformed one, as it would have anyway.
func isExport(contentType string, body []byte, key string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.TrimSpace(mediaType)
	switch {
	case strings.EqualFold(mediaType, otlp.Protobuf):
		return true
	case strings.EqualFold(mediaType, otlp.JSON):
		return otlp.FirstKeyIs(body, key)
	}
	return false
}

// postOTLPLogs takes an OTLP/HTTP logs export.
func (s *Service) postOTLPLogs(c *fiber.Ctx) error {
	encoding, err := otlpEncoding(c)
	if err != nil {
		return err
	}
	now := s.now()
	logs, problems, err := otlp.Logs(encoding, c.Body(), now.UnixMilli())
	if err != nil {
		return otlpUnreadable(s.logs.outcomes, encoding, err)
	}
	if len(problems) > 0 {
		return s.logs.invalid(len(logs), problems)
	}
	if len(logs) > 0 {
		if err := publish(c, s, s.logs, logs, now); err != nil {
			return err
		}
	}
	return otlpSuccess(c, encoding)
}

// postOTLPMetrics takes an OTLP/HTTP metrics export.
func (s *Service) postOTLPMetrics(c *fiber.Ctx) error {
	encoding, err := otlpEncoding(c)
	if err != nil {
		return err
	}
	now := s.now()
	samples, problems, err := otlp.Metrics(encoding, c.Body(), now.UnixMilli())
	if err != nil {
		return otlpUnreadable(s.metrics.outcomes, encoding, err)
	}
	if len(problems) > 0 {
		return s.metrics.invalid(len(samples), problems)
	}
	if len(samples) > 0 {
		if err := publish(c, s, s.metrics, samples, now); err != nil {
			return err
		}
	}
	return otlpSuccess(c, encoding)
}

// otlpEncoding is the encoding a request's Content-Type names.
func otlpEncoding(c *fiber.Ctx) (string, error) {
	encoding, ok := otlp.Encoding(c.Get(fiber.HeaderContentType))
	if !ok {
		return "", httpx.NewError(fiber.StatusUnsupportedMediaType, httpx.CodeUnsupportedMedia,
			"Content-Type must be application/x-protobuf or application/json (OTLP/HTTP)")
	}
	return encoding, nil
}

// otlpSuccess answers a request with an empty Export…Response, which
// carries no partial_success: ingest takes a request whole or not at all.
// It encodes to no bytes in protobuf and to {} in JSON. The status is 200,
// as OTLP/HTTP requires. An empty export is a success too: exporters send
// them when nothing happened, and with nothing sent nothing is lost.
func otlpSuccess(c *fiber.Ctx, encoding string) error {
	c.Set(fiber.HeaderContentType, encoding)
	if encoding == otlp.Protobuf {
		return c.Status(fiber.StatusOK).Send(nil)
	}
	return c.Status(fiber.StatusOK).SendString("{}\n")
}

// otlpUnreadable is the answer to a body that is not OTLP at all: in JSON
// it is invalid_json, as for the other JSON endpoints; in protobuf there is
// no JSON to blame, so it is a validation failure of the body. A refused
// key is a validation failure of a body that parsed.
func otlpUnreadable(o *outcomes, encoding string, err error) error {
	var ke otlp.KeyError
	if errors.As(err, &ke) {
		return o.badBody(ke.FieldError)
	}
	var fe schema.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	if encoding == otlp.JSON {
		return o.unreadable(fe)
	}
	return o.badBody(fe)
}
