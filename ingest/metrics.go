package ingest

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/schema"
)

// postMetrics takes metric samples as JSON (an object or an array), NDJSON,
// or the Prometheus text exposition format.
func (s *Service) postMetrics(c *fiber.Ctx) error {
	contentType := c.Get(fiber.HeaderContentType)
	now := s.now()
	var (
		samples  []schema.Metric
		problems []schema.FieldError
	)
	if isPromText(contentType) {
		var err error
		if samples, problems, err = decodePromText(c.Body(), now.UnixMilli()); err != nil {
			var fe schema.FieldError
			if !errors.As(err, &fe) {
				return fmt.Errorf("parse Prometheus text: %w", err)
			}
			return s.badBody(schema.TopicMetrics, fe)
		}
	} else {
		format, err := bodyFormat(contentType)
		if err != nil {
			return httpx.NewError(fiber.StatusUnsupportedMediaType, httpx.CodeUnsupportedMedia,
				"Content-Type must be application/json (an object or an array), application/x-ndjson or text/plain (Prometheus text format 0.0.4)")
		}
		if samples, problems, err = decodeMetrics(format, c.Body(), now.UnixMilli()); err != nil {
			return s.unreadable(schema.TopicMetrics, err)
		}
	}
	if len(problems) > 0 {
		return s.invalid(schema.TopicMetrics, len(samples), problems)
	}
	recs, ids, err := s.stampMetrics(c.UserContext(), samples, auth.Tenant(c), now)
	if err != nil {
		return err
	}
	if err := s.limit(c, schema.TopicMetrics, len(recs)); err != nil {
		return err
	}
	return s.accept(c, schema.TopicMetrics, recs, ids)
}

// isPromText reports whether a Content-Type names the Prometheus text
// format. Scrapers send text/plain with version=0.0.4, or no version.
func isPromText(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "text/plain" {
		return false
	}
	v, ok := params["version"]
	return !ok || v == "0.0.4"
}

// decodeMetrics decodes and validates every item, collecting every
// problem. It returns an error when the body is not JSON at all.
func decodeMetrics(format string, body []byte, now int64) ([]schema.Metric, []schema.FieldError, error) {
	return decodeItems(format, body, (*schema.Reader).Metric, decodeMetric,
		func(m *schema.Metric) []schema.FieldError { return m.Validate(now) })
}

// stampMetrics stamps and encodes valid samples. A sample is keyed by its
// metric's name, so that one series stays in order on one partition.
func (s *Service) stampMetrics(ctx context.Context, samples []schema.Metric, tenant string, now time.Time) ([]bus.Record, []string, error) {
	return stampEach(ctx, s, samples, tenant, now, schema.TopicMetrics,
		func(m *schema.Metric) stampFields {
			return stampFields{&m.Tenant, &m.EventID, &m.Timestamp, &m.IngestOrder}
		},
		func(m *schema.Metric) ([]byte, string, error) {
			if m.Kind == "" {
				m.Kind = schema.KindGauge
			}
			value, err := schema.EncodeMetric(m)
			if err != nil {
				return nil, "", fmt.Errorf("encode metric: %w", err)
			}
			return value, m.Name, nil
		})
}
