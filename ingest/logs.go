package ingest

import (
	"cmp"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/schema"
)

// postLogs takes log records as one JSON object, a JSON array or NDJSON.
func (s *Service) postLogs(c *fiber.Ctx) error {
	format, err := bodyFormat(c.Get(fiber.HeaderContentType))
	if err != nil {
		return httpx.NewError(fiber.StatusUnsupportedMediaType, httpx.CodeUnsupportedMedia,
			"Content-Type must be application/json (an object or an array) or application/x-ndjson")
	}
	now := s.now()
	logs, problems, err := decodeLogs(format, c.Body(), now.UnixMilli())
	if err != nil {
		return s.logs.unreadable(err)
	}
	if len(problems) > 0 {
		return s.logs.invalid(len(logs), problems)
	}
	if err := publish(c, s, s.logs, logs, now); err != nil {
		return err
	}
	return accepted(c, s.logs, logs)
}

// decodeLogs decodes and validates every item, collecting every problem.
// It returns an error when the body is not JSON at all.
func decodeLogs(format string, body []byte, now int64) ([]schema.Log, []schema.FieldError, error) {
	return decodeItems(format, body, (*schema.Reader).Log, decodeLog,
		func(l *schema.Log) []schema.FieldError { return l.Validate(now) })
}

// logSignal stamps and encodes log records. A record is keyed by its task,
// so that a task's logs stay in order on one partition; a record of no
// task is keyed by its source for the same reason.
func logSignal(events *prometheus.CounterVec) *signal[schema.Log] {
	return &signal[schema.Log]{
		topic:    schema.TopicLogs,
		outcomes: newOutcomes(events, schema.TopicLogs),
		fields: func(l *schema.Log) stampFields {
			return stampFields{&l.Tenant, &l.EventID, &l.Timestamp, &l.IngestOrder}
		},
		encode: func(buf *recordBuffer, l *schema.Log) (key, value []byte, err error) {
			key = buf.key(cmp.Or(l.TaskID, l.Source))
			start := len(buf.b)
			buf.b = schema.AppendLog(buf.b, l)
			return key, buf.since(start), nil
		},
	}
}
