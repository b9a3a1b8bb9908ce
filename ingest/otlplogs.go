package ingest

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/schema"
)

// postOTLPLogs takes an OTLP/HTTP logs export.
func (s *Service) postOTLPLogs(c *fiber.Ctx) error {
	encoding, err := otlpEncoding(c.Get(fiber.HeaderContentType))
	if err != nil {
		return err
	}
	var req logspb.LogsData
	ignored, err := unmarshalOTLP(encoding, c.Body(), &req)
	if err != nil {
		return s.otlpUnreadable(schema.TopicLogs, encoding, err)
	}
	now := s.now()
	logs, where := otlpLogs(&req)
	if len(logs) == 0 {
		return s.otlpNothing(c, schema.TopicLogs, encoding, ignored, "log records")
	}
	if problems := validateLogs(logs, now.UnixMilli()); len(problems) > 0 {
		for i := range problems {
			problems[i].Reason += " (" + where[problems[i].Index] + ")"
		}
		return s.invalid(schema.TopicLogs, len(logs), problems)
	}
	recs, _, err := s.stampLogs(c.UserContext(), logs, auth.Tenant(c), now)
	if err != nil {
		return err
	}
	if err := s.limit(c, schema.TopicLogs, len(recs)); err != nil {
		return err
	}
	if err := s.publish(c.UserContext(), schema.TopicLogs, recs); err != nil {
		return err
	}
	return otlpSuccess(c, encoding)
}

// otlpLogs maps every log record of an export, in order, and says where in
// the export each came from, for error messages.
//
// A record's attributes are its resource's, its scope's and its own,
// stringified; the attributes task_id and user_id also fill the fields of
// those names, which tie a log to a task, and the resource's service.name
// is its source. The body is the message (an event's name when it has no
// body), the severity its level, and the ids lower-case hex.
func otlpLogs(req *logspb.LogsData) ([]schema.Log, []string) {
	var (
		logs  []schema.Log
		where []string
	)
	for ri, rl := range req.GetResourceLogs() {
		resource := rl.GetResource().GetAttributes()
		for si, sl := range rl.GetScopeLogs() {
			base := scopeAttrs(resource, sl.GetScope())
			for li, r := range sl.GetLogRecords() {
				a := base.clone()
				a.add(r.GetAttributes())
				l := schema.Log{
					Timestamp:  otlpMillis(r.GetTimeUnixNano(), r.GetObservedTimeUnixNano()),
					TaskID:     a["task_id"],
					UserID:     a["user_id"],
					Level:      otlpLevel(r.GetSeverityNumber(), r.GetSeverityText()),
					Message:    anyString(r.GetBody()),
					Source:     a["service.name"],
					TraceID:    hexID(r.GetTraceId()),
					SpanID:     hexID(r.GetSpanId()),
					Attributes: a,
				}
				if l.Message == "" {
					l.Message = r.GetEventName()
				}
				if len(l.Attributes) == 0 {
					l.Attributes = nil
				}
				logs = append(logs, l)
				where = append(where, fmt.Sprintf("resourceLogs[%d].scopeLogs[%d].logRecords[%d]", ri, si, li))
			}
		}
	}
	return logs, where
}

// otlpMillis converts the first non-zero of OTLP nanosecond times to
// milliseconds; 0 leaves the time to the stamp.
func otlpMillis(nanos ...uint64) int64 {
	for _, n := range nanos {
		if n != 0 {
			return int64(n / 1e6)
		}
	}
	return 0
}

// hexID writes a trace or span id as W3C trace context does; an all-zero
// or absent id is no id.
func hexID(b []byte) string {
	for _, c := range b {
		if c != 0 {
			return hex.EncodeToString(b)
		}
	}
	return ""
}

// otlpLevel maps an OTLP severity to a level. The severity number decides,
// by its range (TRACE and DEBUG are DEBUG, FATAL is CRITICAL); a record
// without one is judged by its severity text, as logging libraries name
// their levels; a record with neither is INFO, the level of a plain line.
func otlpLevel(n logspb.SeverityNumber, text string) schema.Level {
	switch {
	case n >= logspb.SeverityNumber_SEVERITY_NUMBER_TRACE && n < logspb.SeverityNumber_SEVERITY_NUMBER_INFO:
		return schema.LevelDebug
	case n >= logspb.SeverityNumber_SEVERITY_NUMBER_INFO && n < logspb.SeverityNumber_SEVERITY_NUMBER_WARN:
		return schema.LevelInfo
	case n >= logspb.SeverityNumber_SEVERITY_NUMBER_WARN && n < logspb.SeverityNumber_SEVERITY_NUMBER_ERROR:
		return schema.LevelWarning
	case n >= logspb.SeverityNumber_SEVERITY_NUMBER_ERROR && n < logspb.SeverityNumber_SEVERITY_NUMBER_FATAL:
		return schema.LevelError
	case n >= logspb.SeverityNumber_SEVERITY_NUMBER_FATAL && n <= logspb.SeverityNumber_SEVERITY_NUMBER_FATAL4:
		return schema.LevelCritical
	}
	switch strings.TrimRight(strings.ToUpper(strings.TrimSpace(text)), "0123456789") {
	case "TRACE", "DEBUG", "FINE", "FINER", "FINEST":
		return schema.LevelDebug
	case "WARN", "WARNING":
		return schema.LevelWarning
	case "ERROR", "ERR", "SEVERE":
		return schema.LevelError
	case "FATAL", "CRITICAL", "CRIT", "ALERT", "EMERG", "EMERGENCY", "PANIC":
		return schema.LevelCritical
	}
	return schema.LevelInfo
}
