package ingest

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskpulse/taskpulse/ingest/promtext"
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
	if promtext.IsContentType(contentType) {
		var err error
		if samples, problems, err = promtext.Parse(c.Body(), now.UnixMilli()); err != nil {
			var fe schema.FieldError
			if !errors.As(err, &fe) {
				return fmt.Errorf("parse Prometheus text: %w", err)
			}
			return s.metrics.badBody(fe)
		}
	} else {
		format, err := bodyFormat(contentType)
		if err != nil {
			return httpx.NewError(fiber.StatusUnsupportedMediaType, httpx.CodeUnsupportedMedia,
				"Content-Type must be application/json (an object or an array), application/x-ndjson or text/plain (Prometheus text format 0.0.4)")
		}
		if samples, problems, err = decodeMetrics(format, c.Body(), now.UnixMilli()); err != nil {
			return s.metrics.unreadable(err)
		}
	}
	if len(problems) > 0 {
		return s.metrics.invalid(len(samples), problems)
	}
	if err := publish(c, s, s.metrics, samples, now); err != nil {
		return err
	}
	return accepted(c, s.metrics, samples)
}

// decodeMetrics decodes and validates every item, collecting every
// problem. It returns an error when the body is not JSON at all.
func decodeMetrics(format string, body []byte, now int64) ([]schema.Metric, []schema.FieldError, error) {
	return decodeItems(format, body, (*schema.Reader).Metric, decodeMetric,
		func(m *schema.Metric) []schema.FieldError { return m.Validate(now) })
}

// metricSignal stamps and encodes valid samples. A sample is keyed by its
// metric's name, so that one series stays in order on one partition.
func metricSignal(events *prometheus.CounterVec) *signal[schema.Metric] {
	return &signal[schema.Metric]{
		topic:    schema.TopicMetrics,
		outcomes: newOutcomes(events, schema.TopicMetrics),
		fields: func(m *schema.Metric) stampFields {
			return stampFields{&m.Tenant, &m.EventID, &m.Timestamp, &m.IngestOrder}
		},
		encode: func(buf *recordBuffer, m *schema.Metric) (key, value []byte, err error) {
			if m.Kind == "" {
				m.Kind = schema.KindGauge
			}
			key = buf.key(m.Name)
			start := len(buf.b)
			if buf.b, err = schema.AppendMetric(buf.b, m); err != nil {
				return nil, nil, fmt.Errorf("encode metric: %w", err)
			}
			return key, buf.since(start), nil
		},
	}
}
