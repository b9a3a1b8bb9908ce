package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"unicode/utf8"

	"github.com/taskpulse/taskpulse/internal/jsonx"
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
			return nil, schema.FieldError{Index: len(items), Field: "body", Reason: "is not valid JSON: " + jsonx.Reason(err)}
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
	return schema.FieldError{Index: index, Field: "body", Reason: "is not valid JSON: " + jsonx.Reason(err)}
}

// decodeProgress decodes one item strictly, as jsonx does: a key must be
// spelt exactly as its field ("Status" is not status), and unknown keys
// are refused, so that a misspelt field is reported instead of lost.
func decodeProgress(index int, item []byte) (schema.Progress, []schema.FieldError) {
	var p schema.Progress
	_, errs := decodeItem(index, item, &p)
	return p, errs
}

// decodeLog decodes one log record as decodeProgress does.
func decodeLog(index int, item []byte) (schema.Log, []schema.FieldError) {
	var l schema.Log
	_, errs := decodeItem(index, item, &l)
	return l, errs
}

// decodeMetric decodes one sample as decodeProgress does. A sample must
// have a value: 0 must not stand in for a missing one.
func decodeMetric(index int, item []byte) (schema.Metric, []schema.FieldError) {
	var m schema.Metric
	sent, errs := decodeItem(index, item, &m)
	if decoded(errs) && (sent.Value == nil || string(sent.Value) == "null") {
		errs = append(errs, schema.FieldError{Index: index, Field: "value", Reason: "is required"})
	}
	return m, errs
}

// sentFields holds, as sent, the fields whose presence matters and which
// their decoded zero values cannot tell apart from absent.
type sentFields struct {
	Tenant      json.RawMessage `json:"tenant"`
	IngestOrder json.RawMessage `json:"ingest_order"`
	Value       json.RawMessage `json:"value"`
}

// decodeItem decodes one JSON item into v with jsonx, the one strict
// decoder of request bodies, and refuses the fields that ingest stamps
// when they are sent at all, even empty or null: they would be silently
// overwritten.
func decodeItem(index int, item []byte, v any) (sentFields, []schema.FieldError) {
	var sent sentFields
	if len(item) == 0 || item[0] != '{' {
		return sent, []schema.FieldError{{Index: index, Field: "body", Reason: "must be a JSON object"}}
	}
	var errs []schema.FieldError
	if err := jsonx.Decode(item, v); err != nil {
		var ps jsonx.Problems
		if !errors.As(err, &ps) {
			panic("BUG: jsonx.Decode returned " + err.Error())
		}
		for _, p := range ps {
			errs = append(errs, schema.FieldError{Index: index, Field: p.Field, Reason: p.Reason})
		}
		if !decoded(errs) {
			return sent, errs
		}
	}
	// jsonx has checked that every known key is exactly a field's name, so
	// encoding/json's folding of names cannot mislead this second look.
	if err := json.Unmarshal(item, &sent); err != nil {
		panic("BUG: a JSON object jsonx decoded does not decode again: " + err.Error())
	}
	if sent.Tenant != nil {
		errs = append(errs, schema.FieldError{Index: index, Field: "tenant", Reason: reasonServerSet})
	}
	if sent.IngestOrder != nil {
		errs = append(errs, schema.FieldError{Index: index, Field: "ingest_order", Reason: reasonServerSet})
	}
	return sent, errs
}

// reasonServerSet is the reason of a field ingest stamps, sent by a client.
const reasonServerSet = "is set by the server and must not be sent"

// decoded reports whether an item with these problems was decoded whole
// otherwise: when its only problems are unknown fields or fields the
// server sets, its validation still runs, so one answer names every
// mistake of the item.
func decoded(errs []schema.FieldError) bool {
	for _, e := range errs {
		if e.Reason != jsonx.ReasonUnknownField && e.Reason != reasonServerSet {
			return false
		}
	}
	return true
}

// decodeFast decodes a body of progress events with readFast.
func decodeFast(format string, body []byte) ([]schema.Progress, bool) {
	return readFast(format, body, (*schema.Reader).Progress)
}

// readFast decodes a whole body in one pass with schema.Reader, for the
// bodies well-behaved clients send. It gives up (ok false) at the first
// thing that is not plainly valid, a server-set field or a key spelt in
// another case included, and leaves such bodies to splitItems and the
// strict decoder, whose errors name the bad item and field. What it does
// accept the strict decoder accepts too, and decodes the same.
func readFast[T any](format string, body []byte, read func(*schema.Reader) (T, bool)) (items []T, ok bool) {
	r := schema.NewReader(body, schema.ReaderOptions{Lines: format == formatNDJSON})
	items = make([]T, 0, len(body)/256+1)
	if format == formatNDJSON {
		for {
			r.Space()
			if r.Done() {
				return items, len(items) > 0
			}
			if r.Consume('\n') {
				continue
			}
			item, ok := read(r)
			if !ok {
				return nil, false
			}
			items = append(items, item)
			r.Space()
			if !r.Done() && !r.Consume('\n') {
				return nil, false
			}
		}
	}
	r.Space()
	if !r.Consume('[') {
		item, ok := read(r)
		r.Space()
		return append(items, item), ok && r.Done()
	}
	for {
		r.Space()
		item, ok := read(r)
		if !ok {
			return nil, false
		}
		items = append(items, item)
		r.Space()
		if r.Consume(']') {
			break
		}
		if !r.Consume(',') {
			return nil, false
		}
	}
	r.Space()
	return items, r.Done()
}
