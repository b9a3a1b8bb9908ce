package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"unicode/utf16"
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

// decodeFast decodes a whole body in one pass, for the bodies well-behaved
// clients send. It gives up (ok false) at the first thing that is not
// plainly valid — malformed JSON, an unknown, repeated or server-set
// field, a wrong type, a key in other letter case, a lone surrogate or
// invalid UTF-8 — and leaves such bodies to splitItems and decodeAll, whose
// encoding/json errors name the bad item and field. What it does accept it
// decodes exactly as encoding/json would.
func decodeFast(format string, body []byte) (events []schema.Progress, ok bool) {
	d := fastDecoder{s: string(body), lines: format == formatNDJSON}
	events = make([]schema.Progress, 0, len(body)/256+1)
	if d.lines {
		for {
			d.skipSpace()
			if d.i == len(d.s) {
				return events, len(events) > 0
			}
			if d.s[d.i] == '\n' {
				d.i++
				continue
			}
			p, ok := d.object()
			if !ok {
				return nil, false
			}
			events = append(events, p)
			d.skipSpace()
			if d.i < len(d.s) && !d.consume('\n') {
				return nil, false
			}
		}
	}
	d.skipSpace()
	if d.i < len(d.s) && d.s[d.i] == '{' {
		p, ok := d.object()
		d.skipSpace()
		return append(events, p), ok && d.i == len(d.s)
	}
	if !d.consume('[') {
		return nil, false
	}
	for {
		d.skipSpace()
		p, ok := d.object()
		if !ok {
			return nil, false
		}
		events = append(events, p)
		d.skipSpace()
		if d.consume(']') {
			break
		}
		if !d.consume(',') {
			return nil, false
		}
	}
	d.skipSpace()
	return events, d.i == len(d.s)
}

// fastDecoder reads Progress objects out of a body. The body is copied to
// a string once, and every string without escapes is cut out of it, so a
// typical event costs no allocation for its strings.
type fastDecoder struct {
	s string
	i int
	// lines is set for NDJSON, where a newline ends an item and is not
	// whitespace inside one.
	lines bool
	// floats and ints back the pointer fields, allocated in blocks.
	floats []float64
	ints   []int64
}

// Bits of the fields an object has set, to refuse repeated fields:
// encoding/json lets the last one win, or merges repeated attributes.
const (
	seenEventID = 1 << iota
	seenTimestamp
	seenSeq
	seenTaskID
	seenUserID
	seenTaskType
	seenTaskName
	seenStatus
	seenProgress
	seenCurrentStep
	seenStepsDone
	seenStepsTotal
	seenMessage
	seenETA
	seenError
	seenAttributes
)

func (d *fastDecoder) object() (p schema.Progress, ok bool) {
	if !d.consume('{') {
		return p, false
	}
	d.skipSpace()
	if d.consume('}') {
		return p, true
	}
	var seen uint32
	for {
		key, ok := d.key()
		if !ok {
			return p, false
		}
		d.skipSpace()
		if !d.consume(':') {
			return p, false
		}
		d.skipSpace()
		var bit uint32
		switch key {
		case "event_id":
			bit = seenEventID
			p.EventID, ok = d.stringValue()
		case "timestamp":
			bit = seenTimestamp
			p.Timestamp, ok = d.intValue()
		case "seq":
			bit = seenSeq
			p.Seq, ok = d.intValue()
		case "task_id":
			bit = seenTaskID
			p.TaskID, ok = d.stringValue()
		case "user_id":
			bit = seenUserID
			p.UserID, ok = d.stringValue()
		case "task_type":
			bit = seenTaskType
			p.TaskType, ok = d.stringValue()
		case "task_name":
			bit = seenTaskName
			p.TaskName, ok = d.stringValue()
		case "status":
			bit = seenStatus
			var status string
			status, ok = d.stringValue()
			p.Status = schema.Status(status)
		case "progress":
			bit = seenProgress
			p.Progress, ok = d.floatPointer()
		case "current_step":
			bit = seenCurrentStep
			p.CurrentStep, ok = d.stringValue()
		case "steps_done":
			bit = seenStepsDone
			p.StepsDone, ok = d.intValue()
		case "steps_total":
			bit = seenStepsTotal
			p.StepsTotal, ok = d.intValue()
		case "message":
			bit = seenMessage
			p.Message, ok = d.stringValue()
		case "eta":
			bit = seenETA
			p.ETA, ok = d.intPointer()
		case "error":
			bit = seenError
			p.Error, ok = d.stringValue()
		case "attributes":
			bit = seenAttributes
			p.Attributes, ok = d.attributes()
		default:
			return p, false
		}
		if !ok || seen&bit != 0 {
			return p, false
		}
		seen |= bit
		d.skipSpace()
		if d.consume('}') {
			return p, true
		}
		if !d.consume(',') {
			return p, false
		}
		d.skipSpace()
	}
}

// key reads a member name. Only exact field names are of use, and none
// holds a quote or a backslash, so the first quote ends every name worth
// reading; a name with escapes becomes one that matches no field.
func (d *fastDecoder) key() (string, bool) {
	if !d.consume('"') {
		return "", false
	}
	n := strings.IndexByte(d.s[d.i:], '"')
	if n < 0 {
		return "", false
	}
	k := d.s[d.i : d.i+n]
	d.i += n + 1
	return k, true
}

func (d *fastDecoder) stringValue() (string, bool) {
	if d.i < len(d.s) && d.s[d.i] == 'n' {
		return "", d.null()
	}
	return d.str()
}

func (d *fastDecoder) null() bool {
	if strings.HasPrefix(d.s[d.i:], "null") {
		d.i += len("null")
		return true
	}
	return false
}

// plainByte marks the bytes a string can hold as they are: printable
// ASCII other than the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (d *fastDecoder) str() (string, bool) {
	if !d.consume('"') {
		return "", false
	}
	start, ascii := d.i, true
	for j := start; j < len(d.s); j++ {
		c := d.s[j]
		if plainByte[c] {
			continue
		}
		switch {
		case c == '"':
			v := d.s[start:j]
			if !ascii && !utf8.ValidString(v) {
				return "", false
			}
			d.i = j + 1
			return v, true
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			return "", false
		}
		ascii = false
	}
	return "", false
}

// escaped decodes a string with escapes, starting over at its first byte.
func (d *fastDecoder) escaped(start int) (string, bool) {
	buf := make([]byte, 0, 64)
	ascii := true
	for j := start; j < len(d.s); {
		c := d.s[j]
		switch {
		case c == '"':
			// Escapes are ASCII, so the raw text is valid UTF-8 exactly
			// when every run between them is.
			if !ascii && !utf8.ValidString(d.s[start:j]) {
				return "", false
			}
			d.i = j + 1
			return string(buf), true
		case c < 0x20:
			return "", false
		case c != '\\':
			ascii = ascii && c < utf8.RuneSelf
			buf = append(buf, c)
			j++
			continue
		}
		if j+1 == len(d.s) {
			return "", false
		}
		switch e := d.s[j+1]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(d.s[j+2:])
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				// Only a proper pair; encoding/json turns the rest into
				// U+FFFD, a case left to it.
				if !strings.HasPrefix(d.s[j+6:], `\u`) {
					return "", false
				}
				r2, ok := hex4(d.s[j+8:])
				if r = utf16.DecodeRune(r, r2); !ok || r == utf8.RuneError {
					return "", false
				}
				j += 6
			}
			buf = utf8.AppendRune(buf, r)
			j += 4
		default:
			return "", false
		}
		j += 2
	}
	return "", false
}

func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[:4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// intValue reads an integer that fits int64. A fraction or an exponent
// stops it at the '.' or 'e', where the caller finds no delimiter.
func (d *fastDecoder) intValue() (int64, bool) {
	if d.i < len(d.s) && d.s[d.i] == 'n' {
		return 0, d.null()
	}
	start := d.i
	d.consume('-')
	if !d.digits() {
		return 0, false
	}
	n, err := strconv.ParseInt(d.s[start:d.i], 10, 64)
	return n, err == nil
}

// digits reads the integer part of a number, which has no leading zeros.
func (d *fastDecoder) digits() bool {
	if d.consume('0') {
		return true
	}
	start := d.i
	for d.i < len(d.s) && '0' <= d.s[d.i] && d.s[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// someDigits reads the digits of a fraction or an exponent: at least one.
func (d *fastDecoder) someDigits() bool {
	start := d.i
	for d.i < len(d.s) && '0' <= d.s[d.i] && d.s[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

func (d *fastDecoder) floatPointer() (*float64, bool) {
	if d.i < len(d.s) && d.s[d.i] == 'n' {
		return nil, d.null()
	}
	start := d.i
	d.consume('-')
	if !d.digits() {
		return nil, false
	}
	if d.consume('.') && !d.someDigits() {
		return nil, false
	}
	if d.consume('e') || d.consume('E') {
		if !d.consume('+') {
			d.consume('-')
		}
		if !d.someDigits() {
			return nil, false
		}
	}
	f, err := strconv.ParseFloat(d.s[start:d.i], 64)
	if err != nil {
		return nil, false
	}
	if len(d.floats) == 0 {
		d.floats = make([]float64, 64)
	}
	v := &d.floats[0]
	*v, d.floats = f, d.floats[1:]
	return v, true
}

func (d *fastDecoder) intPointer() (*int64, bool) {
	if d.i < len(d.s) && d.s[d.i] == 'n' {
		return nil, d.null()
	}
	n, ok := d.intValue()
	if !ok {
		return nil, false
	}
	if len(d.ints) == 0 {
		d.ints = make([]int64, 16)
	}
	v := &d.ints[0]
	*v, d.ints = n, d.ints[1:]
	return v, true
}

// attributes reads an object of strings. A repeated key keeps its last
// value, as with encoding/json.
func (d *fastDecoder) attributes() (map[string]string, bool) {
	if d.i < len(d.s) && d.s[d.i] == 'n' {
		return nil, d.null()
	}
	if !d.consume('{') {
		return nil, false
	}
	m := make(map[string]string)
	d.skipSpace()
	if d.consume('}') {
		return m, true
	}
	for {
		k, ok := d.str()
		if !ok {
			return nil, false
		}
		d.skipSpace()
		if !d.consume(':') {
			return nil, false
		}
		d.skipSpace()
		v, ok := d.str()
		if !ok {
			return nil, false
		}
		m[k] = v
		d.skipSpace()
		if d.consume('}') {
			return m, true
		}
		if !d.consume(',') {
			return nil, false
		}
		d.skipSpace()
	}
}

func (d *fastDecoder) skipSpace() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\r':
		case '\n':
			if d.lines {
				return
			}
		default:
			return
		}
		d.i++
	}
}

func (d *fastDecoder) consume(c byte) bool {
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}
