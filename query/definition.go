package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/schema"
)

const (
	maxTitleLen = 200
	maxPanels   = 100
)

// definition is what a client saves as a dashboard.
type definition struct {
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

// panel is one chart of a dashboard: a kind and the parameters of
// /v1/charts/{kind}.
type panel struct {
	Title string     `json:"title"`
	Chart string     `json:"chart"`
	Query panelQuery `json:"query"`
}

// panelQuery holds a panel's chart parameters. A value is a string, a
// number or a boolean, or a list of them for a repeatable parameter.
type panelQuery map[string][]string

func (q *panelQuery) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*q = panelQuery{}
	for k, v := range raw {
		var list []json.RawMessage
		if err := json.Unmarshal(v, &list); err != nil {
			list = []json.RawMessage{v}
		}
		for _, item := range list {
			s, err := scalar(item)
			if err != nil {
				return fmt.Errorf("query parameter %s %w", k, err)
			}
			(*q)[k] = append((*q)[k], s)
		}
	}
	return nil
}

// MarshalJSON writes a parameter given once as a string, the rest as lists.
func (q panelQuery) MarshalJSON() ([]byte, error) {
	out := make(map[string]any, len(q))
	for k, v := range q {
		if len(v) == 1 {
			out[k] = v[0]
		} else {
			out[k] = v
		}
	}
	return json.Marshal(out)
}

func scalar(b json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		return string(bytes.TrimSpace(b)), nil
	}
	return "", errors.New("must be a string, a number, a boolean or a list of them")
}

func (d definition) encode() []byte {
	b, err := json.Marshal(d)
	if err != nil {
		panic("BUG: dashboard definition does not encode: " + err.Error())
	}
	return b
}

// readDefinition decodes and checks a dashboard body, answering 400 with
// every problem, each naming its field, as ingest does.
func (s *Service) readDefinition(c *fiber.Ctx) (definition, error) {
	var def definition
	if mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); err != nil || mt != fiber.MIMEApplicationJSON {
		return def, httpx.NewError(fiber.StatusUnsupportedMediaType, httpx.CodeUnsupportedMedia, "Content-Type must be application/json")
	}
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	err := dec.Decode(&def)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		err = errors.New("has data after the JSON object")
	}
	if err != nil {
		return def, decodeProblem(err)
	}
	if problems := s.checkDefinition(c, def); len(problems) > 0 {
		return def, &httpx.Error{
			Status:  fiber.StatusBadRequest,
			Code:    httpx.CodeValidation,
			Message: strconv.Itoa(len(problems)) + " problems in the dashboard; nothing was saved",
			Details: problems,
		}
	}
	return def, nil
}

// decodeProblem names the field a decoding error is about where the JSON
// decoder says.
func decodeProblem(err error) error {
	var typeErr *json.UnmarshalTypeError
	field, reason, code := "body", "is not valid JSON: "+err.Error(), httpx.CodeInvalidJSON
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		field, reason, code = typeErr.Field, "must be a JSON "+typeErr.Type.Kind().String(), httpx.CodeValidation
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		reason, code = "is not a known field", httpx.CodeValidation
	}
	return &httpx.Error{
		Status: fiber.StatusBadRequest, Code: code, Message: field + " " + reason,
		Details: []schema.FieldError{{Field: field, Reason: reason}},
	}
}

// checkDefinition lists every problem of def. Panel queries are checked as
// /v1/charts would check them, so a saved panel always draws.
func (s *Service) checkDefinition(c *fiber.Ctx, def definition) []schema.FieldError {
	var problems []schema.FieldError
	add := func(field, reason string) {
		problems = append(problems, schema.FieldError{Field: field, Reason: reason})
	}
	checkTitle(add, "title", def.Title)
	if len(def.Panels) > maxPanels {
		add("panels", "must hold at most "+strconv.Itoa(maxPanels)+" panels")
	}
	tenant, now := auth.Tenant(c), s.now().UnixMilli()
	for i, p := range def.Panels {
		at := "panels[" + strconv.Itoa(i) + "]."
		checkTitle(add, at+"title", p.Title)
		switch {
		case p.Chart == "":
			add(at+"chart", "is required")
		case !slices.Contains(chartKinds, p.Chart):
			add(at+"chart", "must be one of "+strings.Join(chartKinds, ", "))
		default:
			if _, err := s.planChart(p.Chart, p.Query, tenant, now); err != nil {
				// planChart answers only BadParameter errors.
				var e *httpx.Error
				if errors.As(err, &e) {
					details, _ := e.Details.([]httpx.ParamError)
					for _, d := range details {
						add(at+"query."+d.Parameter, d.Reason)
					}
				}
			}
		}
	}
	return problems
}

func checkTitle(add func(field, reason string), field, title string) {
	switch {
	case strings.TrimSpace(title) == "":
		add(field, "is required")
	case utf8.RuneCountInString(title) > maxTitleLen:
		add(field, "must be at most "+strconv.Itoa(maxTitleLen)+" characters")
	}
}
