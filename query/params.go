package query

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/schema"
)

const (
	defaultLimit = 100
	maxLimit     = 1000
	// maxValueLen bounds any one parameter value at the longest a useful
	// one can be: a matcher on the largest attribute ingest keeps.
	maxValueLen = schema.MaxAttrKeyLen + len("!~") + schema.MaxAttrValueLen
	// maxListItems bounds a repeatable or comma-separated parameter
	// (statuses, labels to group by, task ids to export): each item is
	// a term of the store's query, and a page of task ids from
	// /v1/tasks is the longest list a client has at hand.
	maxListItems = maxLimit
)

// params reads a request's query parameters, refusing any it does not know.
type params struct {
	args map[string][]string
}

func newParams(c *fiber.Ctx, known ...string) (*params, error) {
	return paramsFrom(queryArgs(c), known...)
}

// queryArgs copies a request's query parameters out of Fiber's buffers.
func queryArgs(c *fiber.Ctx) map[string][]string {
	args := map[string][]string{}
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		args[string(k)] = append(args[string(k)], string(v))
	})
	return args
}

// paramsFrom checks parameters that did not come with a request, such as
// the query of a saved dashboard panel, exactly as a request's are. An
// empty value is refused rather than read as absent: a client that sends
// ?user_id= has a bug to hear about, not a listing of every user's tasks.
func paramsFrom(args map[string][]string, known ...string) (*params, error) {
	// By name, so that the answer does not depend on map order; unknown
	// names first, as a misspelt name explains the rest.
	names := slices.Sorted(maps.Keys(args))
	for _, k := range names {
		if !slices.Contains(known, k) && k != "api_key" {
			return nil, httpx.BadParameter(k, "is not a known parameter (known: "+strings.Join(known, ", ")+")")
		}
	}
	for _, k := range names {
		if k == "api_key" {
			continue // the auth middleware's to judge
		}
		for _, v := range args[k] {
			switch {
			case v == "":
				return nil, httpx.BadParameter(k, "must not be empty (leave it out instead)")
			case len(v) > maxValueLen:
				return nil, httpx.BadParameter(k, "must be at most "+strconv.Itoa(maxValueLen)+" bytes")
			case !utf8.ValidString(v):
				return nil, httpx.BadParameter(k, "must be UTF-8")
			}
		}
	}
	return &params{args: args}, nil
}

// ingestRules check a parameter that filters on a field clients send by
// the rule ingest applies to that field, so that a filter never asks for
// what could not have been stored. schema keeps those rules inside its
// Validate methods, so each is applied to a record holding only the value.
var ingestRules = map[string]func(v string) string{
	"task_id": func(v string) string {
		return reasonFor("task_id", (&schema.Log{Level: schema.LevelInfo, Message: "-", TaskID: v}).Validate(0))
	},
	"user_id": func(v string) string {
		return reasonFor("user_id", (&schema.Log{Level: schema.LevelInfo, Message: "-", UserID: v}).Validate(0))
	},
	"source": func(v string) string {
		return reasonFor("source", (&schema.Log{Level: schema.LevelInfo, Message: "-", Source: v}).Validate(0))
	},
	"task_type": func(v string) string {
		return reasonFor("task_type", (&schema.Progress{TaskID: "-", Status: schema.StatusRunning, TaskType: v}).Validate(0))
	},
	"name": func(v string) string {
		return reasonFor("name", (&schema.Metric{Name: v}).Validate(0))
	},
}

func reasonFor(field string, errs []schema.FieldError) string {
	for _, e := range errs {
		if e.Field == field {
			return e.Reason
		}
	}
	return ""
}

// checkIngest applies name's ingest rule, if it has one, to v.
func checkIngest(name, v string) error {
	if rule, ok := ingestRules[name]; ok {
		if reason := rule(v); reason != "" {
			return httpx.BadParameter(name, reason)
		}
	}
	return nil
}

// str returns a single-valued parameter.
func (p *params) str(name string) (string, error) {
	vs := p.args[name]
	if len(vs) > 1 {
		return "", httpx.BadParameter(name, "must be given once")
	}
	if len(vs) == 0 {
		return "", nil
	}
	return vs[0], checkIngest(name, vs[0])
}

// list returns a parameter given repeatedly or comma-separated.
func (p *params) list(name string) ([]string, error) {
	var out []string
	for _, v := range p.args[name] {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				return nil, httpx.BadParameter(name, "must not have empty items")
			}
			if err := checkIngest(name, part); err != nil {
				return nil, err
			}
			if out = append(out, part); len(out) > maxListItems {
				return nil, httpx.BadParameter(name, "must have at most "+strconv.Itoa(maxListItems)+" items")
			}
		}
	}
	return out, nil
}

// pathID reads a task id from the path by the rule ingest applies to
// task_id, so that an id no task can have is a 400 rather than a 404.
func pathID(c *fiber.Ctx) (string, error) {
	id, err := httpx.Param(c, "id")
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", httpx.BadParameter("id", "must not be empty")
	}
	if reason := ingestRules["task_id"](id); reason != "" {
		return "", httpx.BadParameter("id", reason)
	}
	return id, nil
}

func (p *params) limit() (int, error) {
	s, err := p.str("limit")
	if err != nil || s == "" {
		return defaultLimit, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, httpx.BadParameter("limit", "must be an integer from 1 to "+strconv.Itoa(maxLimit))
	}
	return n, nil
}

// time reads a time parameter as httpx.TimeParam does, returning unix ms.
func (p *params) time(name string) (int64, error) {
	s, err := p.str(name)
	if err != nil {
		return 0, err
	}
	return httpx.TimeParam(name, s)
}

// cursor decodes an opaque cursor into v.
func (p *params) cursor(v any) (bool, error) {
	s, err := p.str("cursor")
	if err != nil || s == "" {
		return false, err
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return false, httpx.BadParameter("cursor", "is not a cursor this API returned")
	}
	return true, nil
}

func encodeCursor(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("BUG: cursor does not encode: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
