package otlp

import (
	"encoding/hex"
	"fmt"
	"strings"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/taskpulse/taskpulse/schema"
)

// Logs decodes an export of logs in encoding, maps its records to
// schema.Log in order and checks them as JSON records are checked. now, in
// milliseconds, is the time validation judges by.
//
// The error is a schema.FieldError of the body when the body is not OTLP
// in its encoding, and a KeyError when a key is refused. Each problem
// names its record's place in the export. An export without records is
// no logs and no error.
func Logs(encoding string, body []byte, now int64) ([]schema.Log, []schema.FieldError, error) {
	var req logspb.LogsData
	ignored, err := unmarshal(encoding, body, &req)
	if err != nil {
		return nil, nil, err
	}
	logs, where := logRecords(&req)
	if len(logs) == 0 {
		return nil, nil, nothing(ignored, "log records")
	}
	var problems []schema.FieldError
	for i := range logs {
		for _, e := range logs[i].Validate(now) {
			e.Index = i
			e.Reason += " (" + where[i] + ")"
			problems = append(problems, e)
		}
	}
	return logs, problems, nil
}

// logRecords maps every log record of an export, in order, and says where in
// the export each came from, for error messages.
//
// A record's attributes are its resource's, its scope's and its own,
// stringified; the attributes task_id and user_id also fill the fields of
// those names, which tie a log to a task, and the resource's service.name
// is its source. The body is the message (an event's name when it has no
// body), the severity its level, and the ids lower-case hex.
func logRecords(req *logspb.LogsData) ([]schema.Log, []string) {
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
					Timestamp:  millis(r.GetTimeUnixNano(), r.GetObservedTimeUnixNano()),
					TaskID:     a["task_id"],
					UserID:     a["user_id"],
					Level:      levelOf(r.GetSeverityNumber(), r.GetSeverityText()),
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

// millis converts the first non-zero of OTLP nanosecond times to
// milliseconds; 0 leaves the time to the stamp.
func millis(nanos ...uint64) int64 {
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

// levelOf maps an OTLP severity to a level. The severity number decides,
// by its range (TRACE and DEBUG are DEBUG, FATAL is CRITICAL); a record
// without one is judged by its severity text, as logging libraries name
// their levels; a record with neither is INFO, the level of a plain line.
func levelOf(n logspb.SeverityNumber, text string) schema.Level {
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
