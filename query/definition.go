package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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
	// maxTitleLen bounds dashboard and panel titles, in characters: a
	// title is a heading, not a description.
	maxTitleLen = 200
	// maxPanels bounds a dashboard's panels; each is a store query every
	// time the dashboard is drawn.
	maxPanels = 100
	// maxPanelParams bounds a panel query's parameters: no chart takes
	// more than 11 (a metric gauge), and the rest are refused anyway.
	maxPanelParams = 16
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

// UnmarshalJSON reads a stored panel query. It is lenient, as what was
// stored before checkDefinition bounded queries must still read back;
// clients' bodies are read by queryValues.
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

// definitionBody is a dashboard as a client sends it. Panel queries stay
// raw until checkDefinition reads them, so that a bad value is named by
// its whole path.
type definitionBody struct {
	Title  string      `json:"title"`
	Panels []panelBody `json:"panels"`
}

type panelBody struct {
	Title string                     `json:"title"`
	Chart string                     `json:"chart"`
	Query map[string]json.RawMessage `json:"query"`
}

// readDefinition decodes and checks a dashboard body, answering 400 with
// every problem, each naming its field, as ingest does.
func (s *Service) readDefinition(c *fiber.Ctx) (definition, error) {
	var body definitionBody
	if err := httpx.DecodeJSON(c, &body); err != nil {
		return definition{}, err
	}
	def, problems := s.checkDefinition(c, body)
	if len(problems) > 0 {
		return def, &httpx.Error{
			Status:  fiber.StatusBadRequest,
			Code:    httpx.CodeValidation,
			Message: strconv.Itoa(len(problems)) + " problems in the dashboard; nothing was saved",
			Details: problems,
		}
	}
	return def, nil
}

// checkDefinition reads body into a definition and lists every problem.
// Panel queries are checked as /v1/charts would check them, so a saved
// panel always draws.
func (s *Service) checkDefinition(c *fiber.Ctx, body definitionBody) (definition, []schema.FieldError) {
	var problems []schema.FieldError
	add := func(field, reason string) {
		problems = append(problems, schema.FieldError{Field: field, Reason: reason})
	}
	def := definition{Title: body.Title}
	checkTitle(add, "title", body.Title)
	if len(body.Panels) > maxPanels {
		add("panels", "must hold at most "+strconv.Itoa(maxPanels)+" panels")
		return def, problems
	}
	tenant, now := auth.Tenant(c), s.now().UnixMilli()
	for i, pb := range body.Panels {
		at := "panels[" + strconv.Itoa(i) + "]."
		p, read := readPanel(add, at, pb)
		def.Panels = append(def.Panels, p)
		checkTitle(add, at+"title", p.Title)
		switch {
		case p.Chart == "":
			add(at+"chart", "is required")
		case !slices.Contains(chartKinds, p.Chart):
			add(at+"chart", "must be one of "+strings.Join(chartKinds, ", "))
		case !read:
			// What could not be read is named already.
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
	return def, problems
}

// readPanel reads a panel's query values, reporting whether they all
// could be read.
func readPanel(add func(field, reason string), at string, pb panelBody) (panel, bool) {
	p := panel{Title: pb.Title, Chart: pb.Chart, Query: panelQuery{}}
	if len(pb.Query) > maxPanelParams {
		add(at+"query", "must have at most "+strconv.Itoa(maxPanelParams)+" parameters")
		return p, false
	}
	ok := true
	for _, k := range slices.Sorted(maps.Keys(pb.Query)) {
		values, reason := queryValues(pb.Query[k])
		if reason != "" {
			add(at+"query."+k, reason)
			ok = false
			continue
		}
		p.Query[k] = values
	}
	return p, ok
}

// queryValues reads one panel query parameter: a string, a number or a
// boolean, or a list of them for a repeatable parameter. Each value is
// then bounded by the parameter reader, as a request's would be.
func queryValues(raw json.RawMessage) ([]string, string) {
	const want = "must be a string, a number, a boolean or a list of them"
	list := []json.RawMessage{raw}
	if len(raw) > 0 && raw[0] == '[' {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, want
		}
	}
	switch {
	case len(list) == 0:
		return nil, "must not be an empty list"
	case len(list) > maxListItems:
		return nil, "must have at most " + strconv.Itoa(maxListItems) + " values"
	}
	out := make([]string, len(list))
	for i, item := range list {
		s, err := scalar(item)
		if err != nil {
			return nil, want
		}
		out[i] = s
	}
	return out, ""
}

func checkTitle(add func(field, reason string), field, title string) {
	switch {
	case strings.TrimSpace(title) == "":
		add(field, "is required")
	case utf8.RuneCountInString(title) > maxTitleLen:
		add(field, "must be at most "+strconv.Itoa(maxTitleLen)+" characters")
	}
}
