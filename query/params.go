package query

import (
	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/schema"
)

const (
	// maxValueLen bounds any one parameter value at the longest a useful
	// one can be: a matcher on the largest attribute ingest keeps.
	maxValueLen = schema.MaxAttrKeyLen + len("!~") + schema.MaxAttrValueLen
	// maxListItems bounds a repeatable or comma-separated parameter
	// (statuses, labels to group by, task ids to export): each item is
	// a term of the store's query, and a page of task ids from
	// /v1/tasks is the longest list a client has at hand.
	maxListItems = httpx.MaxLimit
)

// paramRules are the query API's checks beyond httpx.Query's own: bounded
// values and lists, and ids read as ingest reads them.
var paramRules = httpx.QueryRules{MaxValue: maxValueLen, MaxItems: maxListItems, Check: checkIngest}

// params is a request's query parameters read by httpx.Query under
// paramRules.
type params struct{ *httpx.Query }

func newParams(c *fiber.Ctx, known ...string) (*params, error) {
	return paramsFrom(httpx.QueryArgs(c), known...)
}

// paramsFrom checks parameters that did not come with a request, such as
// the query of a saved dashboard panel, exactly as a request's are.
func paramsFrom(args map[string][]string, known ...string) (*params, error) {
	q, err := httpx.QueryFrom(args, paramRules, known...)
	if err != nil {
		return nil, err
	}
	return &params{q}, nil
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

// checkIngest says why v cannot be a value of name by name's ingest
// rule, if it has one, or "".
func checkIngest(name, v string) string {
	if rule, ok := ingestRules[name]; ok {
		return rule(v)
	}
	return ""
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
