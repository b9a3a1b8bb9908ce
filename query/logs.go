package query

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

const (
	// maxTextLen bounds a text search: room for a pasted log line, far
	// less than a message may hold, since a search needs only a
	// distinctive part of one.
	maxTextLen = 1024
	// maxTextWords bounds the words of a text search: the store matches
	// each word against every candidate message on its own.
	maxTextWords = 32
)

// logParams select log records; listings add limit and cursor.
var logParams = []string{"level", "task_id", "user_id", "source", "text", "text_mode", "attr", "since", "until"}

func (s *Service) listLogs(c *fiber.Ctx) error {
	return s.pageLogs(c, "")
}

// taskLogs lists one task's logs; an unknown task simply has none, as logs
// may arrive before the task's first progress event.
func (s *Service) taskLogs(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return s.pageLogs(c, id)
}

func (s *Service) pageLogs(c *fiber.Ctx, taskID string) error {
	known := append(without(logParams, "task_id"), "limit", "cursor")
	if taskID == "" {
		known = append(known, "task_id")
	}
	p, err := newParams(c, known...)
	if err != nil {
		return err
	}
	f, err := p.logFilter(auth.Tenant(c))
	if err != nil {
		return err
	}
	if taskID != "" {
		f.TaskID = taskID
	}
	if f.Limit, err = p.Limit(); err != nil {
		return err
	}
	var after store.LogCursor
	if ok, err := p.Cursor(&after); err != nil {
		return err
	} else if ok {
		f.After = &after
	}
	logs, err := s.store.Logs(c.UserContext(), f)
	if err != nil {
		return s.storeError(err)
	}
	for i := range logs {
		logs[i].Tenant = ""
	}
	next := ""
	if len(logs) == f.Limit {
		next = httpx.EncodeCursor(logCursor(logs[len(logs)-1]))
	}
	return c.JSON(fiber.Map{"logs": logs, "next_cursor": next})
}

func logCursor(l schema.Log) store.LogCursor {
	return store.LogCursor{Timestamp: l.Timestamp, EventID: l.EventID}
}

// logFilter reads logParams; Limit and After are left to the caller.
func (p *params) logFilter(tenant string) (store.LogFilter, error) {
	f := store.LogFilter{Tenant: tenant}
	level, err := p.Str("level")
	if err != nil {
		return f, err
	}
	if level != "" {
		f.MinLevel = schema.Level(strings.ToUpper(level))
		if !f.MinLevel.Valid() {
			return f, httpx.BadParameter("level", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
		}
	}
	for _, v := range []struct {
		name string
		dst  *string
	}{{"task_id", &f.TaskID}, {"user_id", &f.UserID}, {"source", &f.Source}, {"text", &f.Text}} {
		if *v.dst, err = p.Str(v.name); err != nil {
			return f, err
		}
	}
	if err := checkText(f.Text); err != nil {
		return f, err
	}
	mode, err := p.Str("text_mode")
	if err != nil {
		return f, err
	}
	switch f.TextMode = store.TextMode(mode); f.TextMode {
	case "", store.TextTokens, store.TextSubstring:
	default:
		return f, httpx.BadParameter("text_mode", "must be tokens or substring")
	}
	if f.Attributes, err = p.matchers("attr"); err != nil {
		return f, err
	}
	if f.Since, err = p.Time("since"); err != nil {
		return f, err
	}
	if f.Until, err = p.Time("until"); err != nil {
		return f, err
	}
	if f.Since > 0 && f.Until > 0 && f.Until <= f.Since {
		return f, httpx.BadParameter("until", "must be after since")
	}
	return f, nil
}

// checkText bounds a text search.
func checkText(text string) error {
	if len(text) > maxTextLen {
		return httpx.BadParameter("text", "must be at most "+strconv.Itoa(maxTextLen)+" bytes")
	}
	// Words as the stores split them.
	words := strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) && r != '_' })
	if len(words) > maxTextWords {
		return httpx.BadParameter("text", "must have at most "+strconv.Itoa(maxTextWords)+" words")
	}
	return nil
}

func without(list []string, drop string) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		if v != drop {
			out = append(out, v)
		}
	}
	return out
}
