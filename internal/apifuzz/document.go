package apifuzz

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Document is a parsed OpenAPI 3.0 document.
type Document struct {
	components components
	ops        []*Operation
}

type components struct {
	Schemas    map[string]*schema   `json:"schemas"`
	Parameters map[string]*param    `json:"parameters"`
	Responses  map[string]*response `json:"responses"`
}

// Operation is one documented method and path, its references resolved.
type Operation struct {
	Method, Path string

	doc    *Document
	params []*param
	// bodies maps each documented request content type to its schema.
	bodies map[string]*schema
	// responses maps each documented status to its content types.
	responses map[int][]string
}

type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Description          string             `json:"description"`
	Enum                 []any              `json:"enum"`
	Properties           map[string]*schema `json:"properties"`
	Required             []string           `json:"required"`
	Items                *schema            `json:"items"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	OneOf                []*schema          `json:"oneOf"`
	AllOf                []*schema          `json:"allOf"`
	MaxLength            *int               `json:"maxLength"`
	Minimum              *float64           `json:"minimum"`
	Maximum              *float64           `json:"maximum"`
	MinItems             *int               `json:"minItems"`
	Example              any                `json:"example"`
}

type param struct {
	Ref         string  `json:"$ref"`
	Name        string  `json:"name"`
	In          string  `json:"in"`
	Required    bool    `json:"required"`
	Description string  `json:"description"`
	Schema      *schema `json:"schema"`
}

type media struct {
	Schema *schema `json:"schema"`
}

type response struct {
	Ref     string           `json:"$ref"`
	Content map[string]media `json:"content"`
}

type rawOperation struct {
	Parameters  []*param `json:"parameters"`
	RequestBody *struct {
		Content map[string]media `json:"content"`
	} `json:"requestBody"`
	Responses map[string]*response `json:"responses"`
}

// Load parses an OpenAPI document and resolves the references of its
// operations.
func Load(doc []byte) (*Document, error) {
	var raw struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components components                            `json:"components"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("parse OpenAPI document: %w", err)
	}
	d := Document{components: raw.Components}
	for path, item := range raw.Paths {
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			op, err := d.operation(method, path, raw)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", strings.ToUpper(method), path, err)
			}
			d.ops = append(d.ops, op)
		}
	}
	// Deletions go last, so that the other operations find what exists.
	sort.Slice(d.ops, func(i, j int) bool {
		if di, dj := d.ops[i].Method == http.MethodDelete, d.ops[j].Method == http.MethodDelete; di != dj {
			return dj
		}
		if d.ops[i].Path != d.ops[j].Path {
			return d.ops[i].Path < d.ops[j].Path
		}
		return d.ops[i].Method < d.ops[j].Method
	})
	return &d, nil
}

func (d *Document) operation(method, path string, raw json.RawMessage) (*Operation, error) {
	var ro rawOperation
	if err := json.Unmarshal(raw, &ro); err != nil {
		return nil, err
	}
	op := &Operation{Method: strings.ToUpper(method), Path: path, doc: d, responses: map[int][]string{}}
	for _, p := range ro.Parameters {
		if ref := p.Ref; ref != "" {
			if p = d.components.Parameters[strings.TrimPrefix(ref, "#/components/parameters/")]; p == nil {
				return nil, fmt.Errorf("unresolved parameter %s", ref)
			}
		}
		op.params = append(op.params, p)
	}
	if ro.RequestBody != nil {
		op.bodies = map[string]*schema{}
		for ct, m := range ro.RequestBody.Content {
			op.bodies[ct] = d.schema(m.Schema)
		}
	}
	for code, r := range ro.Responses {
		status, err := strconv.Atoi(code)
		if err != nil {
			return nil, fmt.Errorf("response %q: %w", code, err)
		}
		if r.Ref != "" {
			if r = d.components.Responses[strings.TrimPrefix(r.Ref, "#/components/responses/")]; r == nil {
				return nil, fmt.Errorf("unresolved response %s", code)
			}
		}
		op.responses[status] = slices.Sorted(maps.Keys(r.Content))
	}
	return op, nil
}

// Operations lists the document's operations, deletions last and the
// rest by path and method.
func (d *Document) Operations() []*Operation { return d.ops }

// schema follows references to the schema they name.
func (d *Document) schema(s *schema) *schema {
	for s != nil && s.Ref != "" {
		s = d.components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	// allOf is used here only to annotate one referenced schema.
	if s != nil && len(s.AllOf) == 1 && s.Type == "" {
		inner := *d.schema(s.AllOf[0])
		if s.Description != "" {
			inner.Description = s.Description
		}
		return &inner
	}
	return s
}

// errorCodes are the codes the document's Error schema allows.
func (d *Document) errorCodes() []string {
	e := d.schema(d.schema(d.components.Schemas["Error"]).Properties["error"])
	var codes []string
	for _, c := range d.schema(e.Properties["code"]).Enum {
		codes = append(codes, fmt.Sprint(c))
	}
	return codes
}

func (op *Operation) String() string { return op.Method + " " + op.Path }

func (op *Operation) param(name string) *param {
	for _, p := range op.params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// paramsIn are the operation's parameters in one place: path, query or header.
func (op *Operation) paramsIn(in string) []*param {
	var out []*param
	for _, p := range op.params {
		if p.In == in {
			out = append(out, p)
		}
	}
	return out
}

// requiredParam reports whether the operation documents name as required,
// always or for some values of another parameter.
func (op *Operation) requiredParam(name string) bool {
	p := op.param(name)
	return p != nil && (p.Required || strings.Contains(p.Description, "required"))
}
