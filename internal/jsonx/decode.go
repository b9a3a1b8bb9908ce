package jsonx

import (
	"bytes"
	"cmp"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Problem is what is wrong with a body: the field, as a path such as
// "panels[2].query" or "body" for the whole, and why.
type Problem struct {
	Field  string
	Reason string
}

func (p Problem) Error() string { return p.Field + " " + p.Reason }

// Syntax reports whether the body could not be read as JSON at all, as
// opposed to a JSON value that does not fit the target.
func (p Problem) Syntax() bool { return p.Field == "body" }

// Problems are everything Decode found wrong with a body, at least one:
// every unknown field, and the first value that does not fit its field.
// A body that is not JSON at all has one, its syntax.
type Problems []Problem

func (ps Problems) Error() string {
	reasons := make([]string, len(ps))
	for i, p := range ps {
		reasons[i] = p.Error()
	}
	return strings.Join(reasons, "; ")
}

// Syntax reports whether the body could not be read as JSON at all.
func (ps Problems) Syntax() bool { return len(ps) == 1 && ps[0].Syntax() }

// surrogateEscape finds a \u escape of half a surrogate pair.
var surrogateEscape = regexp.MustCompile(`\\u[dD][89a-fA-F]`)

// Decode decodes data, one JSON value, into v strictly. It returns nil or
// Problems. Unknown fields do not stop it: the rest is decoded still, so
// that one answer names every mistake of the body.
func Decode(data []byte, v any) error {
	// Only a body with bad bytes or a surrogate escape needs the walk
	// that names the string holding them.
	if !utf8.Valid(data) || surrogateEscape.Match(data) {
		if p := textProblem(data); p != nil {
			return Problems{*p}
		}
		if !utf8.Valid(data) {
			return Problems{{"body", "is not valid UTF-8"}}
		}
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // so that 1e400 is named by its field in the second pass
	if err := dec.Decode(&generic); err != nil {
		if errors.Is(err, io.EOF) {
			return Problems{{"body", "is empty"}}
		}
		return Problems{{"body", "is not valid JSON: " + Reason(err)}}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Problems{{"body", "has data after the JSON value"}}
	}
	var unknown Problems
	checkKeys(generic, reflect.TypeOf(v), "", &unknown)
	// Map order made the walk's order; the answer's is by path.
	slices.SortFunc(unknown, func(a, b Problem) int { return cmp.Compare(a.Field, b.Field) })
	dec = json.NewDecoder(bytes.NewReader(data))
	if len(unknown) == 0 {
		// The walk found every unknown key; this is the guard should
		// it ever miss one.
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		// encoding/json folds an unknown "Count" into count; it is named
		// once, as unknown.
		if p := fieldProblem(err); !slices.Contains(unknown, unknownField(p.Field)) {
			unknown = append(unknown, p)
		}
		return unknown
	}
	if len(unknown) > 0 {
		return unknown
	}
	return nil
}

// Reason words a decoding error without Go's package prefix, with the
// byte offset of a syntax error.
func Reason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", strings.TrimPrefix(se.Error(), "json: "), se.Offset)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func fieldProblem(err error) Problem {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := cmp.Or(typeErr.Field, "body")
		if want := kind(typeErr.Type); want == "number" && strings.HasPrefix(typeErr.Value, "number") {
			return Problem{field, "is out of range: " + typeErr.Value}
		}
		return Problem{field, "must be a JSON " + kind(typeErr.Type) + ", not " + typeErr.Value}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return unknownField(strings.Trim(name, `"`))
	}
	var p Problem
	if errors.As(err, &p) {
		return p
	}
	// A field's own UnmarshalJSON refused its value; its error says why
	// but not where, which encoding/json does not tell.
	return Problem{"body", "has a value that is not valid: " + Reason(err)}
}

// ReasonUnknownField is the reason of a field v has no place for. When
// every problem Decode returns has it, the rest of data was decoded into
// v whole, so v can be checked further.
const ReasonUnknownField = "is not a known field"

func unknownField(path string) Problem {
	if path == "" || strings.HasSuffix(path, ".") {
		return Problem{"body", "has a field with an empty name"}
	}
	return Problem{path, ReasonUnknownField}
}

// kind names a Go type as JSON does.
func kind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Bool:
		return "boolean"
	}
	return "number"
}

var (
	unmarshaler     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// checkKeys walks a decoded value beside the type it will be decoded
// into and adds to unknown every object key that is not exactly a
// field's name. Types that decode themselves are left to their own
// decoder.
func checkKeys(v any, t reflect.Type, path string, unknown *Problems) {
	if t == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) && t.Kind() != reflect.Map {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return // a type mismatch, which Decode words
		}
		fields := fieldsOf(t)
		for key, val := range obj {
			if ft, ok := fields[key]; ok {
				checkKeys(val, ft, join(path, key), unknown)
			} else {
				*unknown = append(*unknown, unknownField(join(path, key)))
			}
		}
	case reflect.Map:
		obj, _ := v.(map[string]any)
		for key, val := range obj {
			checkKeys(val, t.Elem(), join(path, key), unknown)
		}
	case reflect.Slice, reflect.Array:
		arr, _ := v.([]any)
		for i, val := range arr {
			checkKeys(val, t.Elem(), path+"["+strconv.Itoa(i)+"]", unknown)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// fieldsOf maps the JSON names of t's fields, those of embedded structs
// included, to their types.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	fields := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || len(f.Index) > 1 && !embeddedPath(t, f.Index) {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			continue // its fields are listed on their own
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	fieldCache.Store(t, fields)
	return fields
}

// embeddedPath reports whether every step to a promoted field goes
// through an embedded struct without a JSON name of its own.
func embeddedPath(t reflect.Type, index []int) bool {
	for _, i := range index[:len(index)-1] {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" {
			return false
		}
		t = f.Type
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	return true
}
