package ingest

import (
	"context"
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
	recs, ids, err := s.stampLogs(c.UserContext(), logs, auth.Tenant(c), now)
	if err != nil {
		return err
	}
	if err := s.limit(c, schema.TopicLogs, len(recs)); err != nil {
		return err
	}
	return s.accept(c, schema.TopicLogs, recs, ids)
}

// decodeLogs decodes and validates every item, collecting every problem.
// It returns an error when the body is not JSON at all.
func decodeLogs(format string, body []byte, now int64) ([]schema.Log, []schema.FieldError, error) {
	return decodeItems(format, body, (*schema.Reader).Log, decodeLog,
		func(l *schema.Log) []schema.FieldError { return l.Validate(now) })
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
func (s *Service) stampLogs(ctx context.Context, logs []schema.Log, tenant string, now time.Time) ([]bus.Record, []string, error) {
	return stampEach(ctx, s, logs, tenant, now, schema.TopicLogs,
		func(l *schema.Log) stampFields {
			return stampFields{&l.Tenant, &l.EventID, &l.Timestamp, &l.IngestOrder}
		},
		func(l *schema.Log) ([]byte, string, error) {
			value, err := schema.EncodeLog(l)
			if err != nil {
				return nil, "", fmt.Errorf("encode log: %w", err)
			}
			if l.TaskID != "" {
				return value, l.TaskID, nil
			}
			return value, l.Source, nil
		})
}
