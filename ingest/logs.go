package ingest

import (
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus"
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
		return s.unreadable(schema.TopicLogs, err)
	}
	if len(problems) > 0 {
		return s.invalid(schema.TopicLogs, len(logs), problems)
	}
	recs, ids, err := s.stampLogs(logs, auth.Tenant(c), now)
	if err != nil {
		return err
	}
	return s.accept(c, schema.TopicLogs, recs, ids)
}

// decodeLogs decodes and validates every item, collecting every problem.
// It returns an error when the body is not JSON at all.
func decodeLogs(format string, body []byte, now int64) ([]schema.Log, []schema.FieldError, error) {
	return decodeItems(format, body, func(i int, l *schema.Log) []schema.FieldError {
		if errs := serverSet(i, l.Tenant, l.IngestOrder); errs != nil {
			return errs
		}
		return appendProblems(nil, i, l.Validate(now))
	})
}

// validateLogs validates records built by a protocol adapter, which cannot
// carry server-set fields.
func validateLogs(logs []schema.Log, now int64) []schema.FieldError {
	var problems []schema.FieldError
	for i := range logs {
		problems = appendProblems(problems, i, logs[i].Validate(now))
	}
	return problems
}

// stampLogs stamps and encodes valid log records. A record is keyed by its
// task, so that a task's logs stay in order on one partition; a record of
// no task is keyed by its source for the same reason.
func (s *Service) stampLogs(logs []schema.Log, tenant string, now time.Time) ([]bus.Record, []string, error) {
	missing := 0
	for i := range logs {
		if logs[i].EventID == "" {
			missing++
		}
	}
	st, err := s.newStamper(tenant, now, len(logs), missing)
	if err != nil {
		return nil, nil, err
	}
	recs := make([]bus.Record, len(logs))
	ids := make([]string, len(logs))
	for i := range logs {
		l := &logs[i]
		if err := st.stamp(i, &l.Tenant, &l.EventID, &l.Timestamp, &l.IngestOrder); err != nil {
			return nil, nil, err
		}
		value, err := schema.EncodeLog(l)
		if err != nil {
			return nil, nil, fmt.Errorf("encode log: %w", err)
		}
		key := l.TaskID
		if key == "" {
			key = l.Source
		}
		recs[i] = st.record(schema.TopicLogs, key, value)
		ids[i] = l.EventID
	}
	return recs, ids, nil
}
