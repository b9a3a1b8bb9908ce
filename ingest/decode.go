package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/taskpulse/taskpulse/schema"
)

// Body formats ingest accepts.
const (
	formatJSON   = "json"
	formatNDJSON = "ndjson"
)

// errUnsupportedMedia means the Content-Type names no format ingest reads.
var errUnsupportedMedia = errors.New("unsupported content type")

// bodyFormat maps a Content-Type header to a body format.
func bodyFormat(contentType string) (string, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", errUnsupportedMedia
	}
	switch mt {
	case "application/json":
		return formatJSON, nil
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines":
		return formatNDJSON, nil
	}
	return "", errUnsupportedMedia
}

// splitItems cuts a body into its items without decoding them: the items of
// a JSON array, the object itself, or the non-blank lines of NDJSON. A
// syntax error is reported with the item index it occurred in, so the
// client can find it.
func splitItems(format string, body []byte) ([][]byte, error) {
	items, err := splitJSON(format, body)
	if err != nil {
		return nil, err
	}
	// encoding/json would replace bad bytes silently; JSON text is UTF-8,
	// and a client sending anything else should hear of it.
	for i, item := range items {
		if !utf8.Valid(item) {
			return nil, schema.FieldError{Index: i, Field: "body", Reason: "is not valid UTF-8"}
		}
	}
	return items, nil
}

func splitJSON(format string, body []byte) ([][]byte, error) {
	if format == formatNDJSON {
		return splitLines(body)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, schema.FieldError{Field: "body", Reason: "is empty"}
	}
	if body[0] != '[' {
		if !json.Valid(body) {
			return nil, syntaxError(0, body)
		}
		return [][]byte{body}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return nil, syntaxError(0, body)
	}
	var items [][]byte
	for dec.More() {
		var item json.RawMessage
		if err := dec.Decode(&item); err != nil {
			return nil, schema.FieldError{Index: len(items), Field: "body", Reason: "is not valid JSON: " + jsonReason(err)}
		}
		items = append(items, item)
	}
	if _, err := dec.Token(); err != nil {
		return nil, schema.FieldError{Index: len(items), Field: "body", Reason: "is not valid JSON: array not closed"}
	}
	if dec.More() || dec.InputOffset() != int64(len(body)) {
		return nil, schema.FieldError{Index: len(items), Field: "body", Reason: "has data after the JSON array"}
	}
	if len(items) == 0 {
		return nil, schema.FieldError{Field: "body", Reason: "is an empty array"}
	}
	return items, nil
}

func splitLines(body []byte) ([][]byte, error) {
	var items [][]byte
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if !json.Valid(line) {
			return nil, syntaxError(len(items), line)
		}
		items = append(items, line)
	}
	if len(items) == 0 {
		return nil, schema.FieldError{Field: "body", Reason: "has no items"}
	}
	return items, nil
}

func syntaxError(index int, item []byte) error {
	var v any
	err := json.Unmarshal(item, &v)
	if err == nil {
		err = errors.New("invalid")
	}
	return schema.FieldError{Index: index, Field: "body", Reason: "is not valid JSON: " + jsonReason(err)}
}

// decodeProgress decodes one item strictly: unknown fields are refused, so
// that a misspelt field ("progres") is reported instead of silently lost.
func decodeProgress(index int, item []byte) (schema.Progress, []schema.FieldError) {
	var p schema.Progress
	if len(item) == 0 || item[0] != '{' {
		return p, []schema.FieldError{{Index: index, Field: "body", Reason: "must be a JSON object"}}
	}
	dec := json.NewDecoder(bytes.NewReader(item))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, []schema.FieldError{decodeFieldError(index, err)}
	}
	// Ingest stamps these; a client must not forge them.
	if p.Tenant != "" || p.IngestOrder != 0 {
		field := "tenant"
		if p.Tenant == "" {
			field = "ingest_order"
		}
		return p, []schema.FieldError{{Index: index, Field: field, Reason: "is set by the server and must not be sent"}}
	}
	return p, nil
}

func decodeFieldError(index int, err error) schema.FieldError {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return schema.FieldError{Index: index, Field: typeErr.Field, Reason: "must be a JSON " + jsonKind(typeErr.Type.Kind().String()) + ", not " + typeErr.Value}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name = strings.Trim(name, `"`); name == "" {
			return schema.FieldError{Index: index, Field: "body", Reason: "has a field with an empty name"}
		}
		return schema.FieldError{Index: index, Field: name, Reason: "is not a known field"}
	}
	return schema.FieldError{Index: index, Field: "body", Reason: "is not valid JSON: " + jsonReason(err)}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	case "ptr":
		return "number"
	}
	return "number"
}

func jsonReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", strings.TrimPrefix(se.Error(), "json: "), se.Offset)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// decodeFast decodes a whole body in one pass with schema.Reader, for the
// bodies well-behaved clients send. It gives up (ok false) at the first
// thing that is not plainly valid, a server-set field included, and leaves
// such bodies to splitItems and decodeAll, whose encoding/json errors name
// the bad item and field. What it does accept it decodes exactly as
// encoding/json would.
func decodeFast(format string, body []byte) (events []schema.Progress, ok bool) {
	r := schema.NewReader(body, schema.ReaderOptions{Lines: format == formatNDJSON})
	events = make([]schema.Progress, 0, len(body)/256+1)
	if format == formatNDJSON {
		for {
			r.Space()
			if r.Done() {
				return events, len(events) > 0
			}
			if r.Consume('\n') {
				continue
			}
			p, ok := r.Progress()
			if !ok {
				return nil, false
			}
			events = append(events, p)
			r.Space()
			if !r.Done() && !r.Consume('\n') {
				return nil, false
			}
		}
	}
	r.Space()
	if !r.Consume('[') {
		p, ok := r.Progress()
		r.Space()
		return append(events, p), ok && r.Done()
	}
	for {
		r.Space()
		p, ok := r.Progress()
		if !ok {
			return nil, false
		}
		events = append(events, p)
		r.Space()
		if r.Consume(']') {
			break
		}
		if !r.Consume(',') {
			return nil, false
		}
	}
	r.Space()
	return events, r.Done()
}
