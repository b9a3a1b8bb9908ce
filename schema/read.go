package schema

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Reader decodes signals out of JSON text in one pass, without reflection,
// for the text that the encoders here and well-behaved clients write. It
// gives up (ok false) at the first thing that is not plainly valid —
// malformed JSON, an unknown, repeated or differently cased member name, a
// wrong type, a number out of range, a lone surrogate or invalid UTF-8 —
// and leaves such text to encoding/json, which decodes it leniently or
// words the error. What it does accept it decodes exactly as encoding/json
// would.
//
// The text is copied to a string once and every string without escapes is
// cut out of that copy, so a typical item costs no allocation for its
// strings; they all keep the copy alive.
type Reader struct {
	s    string
	i    int
	opts ReaderOptions
	// floats and ints back the pointer fields, allocated in blocks.
	floats []float64
	ints   []int64
}

// ReaderOptions says what text a Reader reads.
type ReaderOptions struct {
	// Lines is set for NDJSON, where a newline ends an item and is not
	// whitespace inside one.
	Lines bool
	// Stamped accepts tenant and ingest_order: bus records carry them,
	// while a client must not send them and is left to the strict
	// encoding/json path that refuses them with a reason.
	Stamped bool
}

// NewReader returns a Reader of b.
func NewReader(b []byte, opts ReaderOptions) *Reader {
	return &Reader{s: string(b), opts: opts}
}

// Space skips whitespace, stopping at a newline when reading lines.
func (r *Reader) Space() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\r':
		case '\n':
			if r.opts.Lines {
				return
			}
		default:
			return
		}
		r.i++
	}
}

// Consume reads c if it comes next.
func (r *Reader) Consume(c byte) bool {
	if r.i < len(r.s) && r.s[r.i] == c {
		r.i++
		return true
	}
	return false
}

// Done reports whether the whole text has been read.
func (r *Reader) Done() bool { return r.i == len(r.s) }

// busReader reads one bus record as json.Marshal and the encoders here
// write it: a bare object, which Done then finds the text ends with.
// Anything else, surrounding whitespace included, is declined and so left
// to encoding/json.
func busReader(b []byte) *Reader {
	return NewReader(b, ReaderOptions{Stamped: true})
}

// decodeRecord decodes b, one bus record, into what json.Unmarshal would
// make of it. Every consumer decodes every record, so the records the
// encoders here write take read, the fast path; what read declines, such
// as a record another tool wrote, goes to encoding/json.
func decodeRecord[T any](b []byte, read func([]byte) (T, bool)) (T, error) {
	if v, ok := read(b); ok {
		return v, nil
	}
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}

// Progress reads one progress object.
func (r *Reader) Progress() (p Progress, ok bool) {
	// Fields are numbered in struct order, to spot repeated ones.
	ok = r.object(func(name string) (uint, bool) {
		switch name {
		case "tenant":
			return 0, r.opts.Stamped && r.text(&p.Tenant)
		case "event_id":
			return 1, r.text(&p.EventID)
		case "timestamp":
			return 2, r.integer(&p.Timestamp)
		case "seq":
			return 3, r.integer(&p.Seq)
		case "ingest_order":
			return 4, r.opts.Stamped && r.integer(&p.IngestOrder)
		case "task_id":
			return 5, r.text(&p.TaskID)
		case "user_id":
			return 6, r.text(&p.UserID)
		case "task_type":
			return 7, r.text(&p.TaskType)
		case "task_name":
			return 8, r.text(&p.TaskName)
		case "status":
			return 9, r.text((*string)(&p.Status))
		case "progress":
			return 10, r.floatPointer(&p.Progress)
		case "current_step":
			return 11, r.text(&p.CurrentStep)
		case "steps_done":
			return 12, r.integer(&p.StepsDone)
		case "steps_total":
			return 13, r.integer(&p.StepsTotal)
		case "message":
			return 14, r.text(&p.Message)
		case "eta":
			return 15, r.intPointer(&p.ETA)
		case "error":
			return 16, r.text(&p.Error)
		case "attributes":
			return 17, r.stringMap(&p.Attributes)
		}
		return 0, false
	})
	return p, ok
}

// Log reads one log object.
func (r *Reader) Log() (l Log, ok bool) {
	// Fields are numbered in struct order, to spot repeated ones.
	ok = r.object(func(name string) (uint, bool) {
		switch name {
		case "tenant":
			return 0, r.opts.Stamped && r.text(&l.Tenant)
		case "event_id":
			return 1, r.text(&l.EventID)
		case "timestamp":
			return 2, r.integer(&l.Timestamp)
		case "ingest_order":
			return 3, r.opts.Stamped && r.integer(&l.IngestOrder)
		case "task_id":
			return 4, r.text(&l.TaskID)
		case "user_id":
			return 5, r.text(&l.UserID)
		case "level":
			return 6, r.text((*string)(&l.Level))
		case "message":
			return 7, r.text(&l.Message)
		case "source":
			return 8, r.text(&l.Source)
		case "trace_id":
			return 9, r.text(&l.TraceID)
		case "span_id":
			return 10, r.text(&l.SpanID)
		case "attributes":
			return 11, r.stringMap(&l.Attributes)
		}
		return 0, false
	})
	return l, ok
}

// Metric reads one metric sample object. One without a value, or with a
// null one, is declined: it would read as 0, and a client's sample must
// say its value.
func (r *Reader) Metric() (m Metric, ok bool) {
	hasValue := false
	// Fields are numbered in struct order, to spot repeated ones.
	ok = r.object(func(name string) (uint, bool) {
		switch name {
		case "tenant":
			return 0, r.opts.Stamped && r.text(&m.Tenant)
		case "event_id":
			return 1, r.text(&m.EventID)
		case "timestamp":
			return 2, r.integer(&m.Timestamp)
		case "ingest_order":
			return 3, r.opts.Stamped && r.integer(&m.IngestOrder)
		case "name":
			return 4, r.text(&m.Name)
		case "kind":
			return 5, r.text((*string)(&m.Kind))
		case "value":
			hasValue = !r.isNull()
			return 6, r.number(&m.Value)
		case "unit":
			return 7, r.text(&m.Unit)
		case "labels":
			return 8, r.stringMap(&m.Labels)
		case "task_id":
			return 9, r.text(&m.TaskID)
		}
		return 0, false
	})
	return m, ok && hasValue
}

// object reads an object, handing each member's name to member, which
// reads the value into its field and says which field it was. A repeated
// field is refused: encoding/json lets the last one win, or merges
// repeated maps.
func (r *Reader) object(member func(name string) (field uint, ok bool)) bool {
	if !r.Consume('{') {
		return false
	}
	r.Space()
	if r.Consume('}') {
		return true
	}
	var seen uint64
	for {
		name, ok := r.name()
		if !ok {
			return false
		}
		r.Space()
		if !r.Consume(':') {
			return false
		}
		r.Space()
		field, ok := member(name)
		if !ok || seen&(1<<field) != 0 {
			return false
		}
		seen |= 1 << field
		r.Space()
		if r.Consume('}') {
			return true
		}
		if !r.Consume(',') {
			return false
		}
		r.Space()
	}
}

// name reads a member name. Only exact field names are of use, and none
// holds a quote or a backslash, so the first quote ends every name worth
// reading; a name with escapes becomes one that matches no field.
func (r *Reader) name() (string, bool) {
	if !r.Consume('"') {
		return "", false
	}
	n := strings.IndexByte(r.s[r.i:], '"')
	if n < 0 {
		return "", false
	}
	k := r.s[r.i : r.i+n]
	r.i += n + 1
	return k, true
}

// null reads a null, which leaves a field as it was: zero, since repeated
// fields are refused.
func (r *Reader) null() bool {
	if strings.HasPrefix(r.s[r.i:], "null") {
		r.i += len("null")
		return true
	}
	return false
}

func (r *Reader) isNull() bool { return r.i < len(r.s) && r.s[r.i] == 'n' }

func (r *Reader) text(dst *string) bool {
	if r.isNull() {
		return r.null()
	}
	v, ok := r.str()
	*dst = v
	return ok
}

// plainByte marks the bytes a string can hold as they are: printable
// ASCII other than the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (r *Reader) str() (string, bool) {
	if !r.Consume('"') {
		return "", false
	}
	start, ascii := r.i, true
	for j := start; j < len(r.s); j++ {
		c := r.s[j]
		if plainByte[c] {
			continue
		}
		switch {
		case c == '"':
			v := r.s[start:j]
			if !ascii && !utf8.ValidString(v) {
				return "", false
			}
			r.i = j + 1
			return v, true
		case c == '\\':
			return r.escaped(start)
		case c < 0x20:
			return "", false
		}
		ascii = false
	}
	return "", false
}

// escaped decodes a string with escapes, starting over at its first byte.
func (r *Reader) escaped(start int) (string, bool) {
	buf := make([]byte, 0, 64)
	ascii := true
	for j := start; j < len(r.s); {
		c := r.s[j]
		switch {
		case c == '"':
			// Escapes are ASCII, so the raw text is valid UTF-8 exactly
			// when every run between them is.
			if !ascii && !utf8.ValidString(r.s[start:j]) {
				return "", false
			}
			r.i = j + 1
			return string(buf), true
		case c < 0x20:
			return "", false
		case c != '\\':
			ascii = ascii && c < utf8.RuneSelf
			buf = append(buf, c)
			j++
			continue
		}
		if j+1 == len(r.s) {
			return "", false
		}
		switch e := r.s[j+1]; e {
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
			c, ok := hex4(r.s[j+2:])
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(c) {
				// Only a proper pair; encoding/json turns the rest into
				// U+FFFD, a case left to it.
				if !strings.HasPrefix(r.s[j+6:], `\u`) {
					return "", false
				}
				c2, ok := hex4(r.s[j+8:])
				if c = utf16.DecodeRune(c, c2); !ok || c == utf8.RuneError {
					return "", false
				}
				j += 6
			}
			buf = utf8.AppendRune(buf, c)
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

// integer reads an integer that fits int64. A fraction or an exponent
// stops it at the '.' or 'e', where the caller finds no delimiter.
func (r *Reader) integer(dst *int64) bool {
	if r.isNull() {
		return r.null()
	}
	start := r.i
	r.Consume('-')
	if !r.digits() {
		return false
	}
	n, err := strconv.ParseInt(r.s[start:r.i], 10, 64)
	*dst = n
	return err == nil
}

// digits reads the integer part of a number, which has no leading zeros.
func (r *Reader) digits() bool {
	if r.Consume('0') {
		return true
	}
	return r.someDigits()
}

// someDigits reads the digits of a fraction or an exponent: at least one.
func (r *Reader) someDigits() bool {
	start := r.i
	for r.i < len(r.s) && '0' <= r.s[r.i] && r.s[r.i] <= '9' {
		r.i++
	}
	return r.i > start
}

func (r *Reader) number(dst *float64) bool {
	if r.isNull() {
		return r.null()
	}
	start := r.i
	r.Consume('-')
	if !r.digits() {
		return false
	}
	if r.Consume('.') && !r.someDigits() {
		return false
	}
	if r.Consume('e') || r.Consume('E') {
		if !r.Consume('+') {
			r.Consume('-')
		}
		if !r.someDigits() {
			return false
		}
	}
	f, err := strconv.ParseFloat(r.s[start:r.i], 64)
	*dst = f
	return err == nil
}

// blockLen sizes a block of pointer targets by the items likely left in
// the text, so that a single record does not pay for a batch.
func (r *Reader) blockLen(most int) int {
	return min(most, (len(r.s)-r.i)/256+1)
}

func (r *Reader) floatPointer(dst **float64) bool {
	if r.isNull() {
		return r.null()
	}
	var f float64
	if !r.number(&f) {
		return false
	}
	if len(r.floats) == 0 {
		r.floats = make([]float64, r.blockLen(64))
	}
	*dst = &r.floats[0]
	**dst, r.floats = f, r.floats[1:]
	return true
}

func (r *Reader) intPointer(dst **int64) bool {
	if r.isNull() {
		return r.null()
	}
	var n int64
	if !r.integer(&n) {
		return false
	}
	if len(r.ints) == 0 {
		r.ints = make([]int64, r.blockLen(16))
	}
	*dst = &r.ints[0]
	**dst, r.ints = n, r.ints[1:]
	return true
}

// stringMap reads an object of strings. A repeated key keeps its last
// value, as with encoding/json.
func (r *Reader) stringMap(dst *map[string]string) bool {
	if r.isNull() {
		return r.null()
	}
	if !r.Consume('{') {
		return false
	}
	m := make(map[string]string)
	*dst = m
	r.Space()
	if r.Consume('}') {
		return true
	}
	for {
		k, ok := r.str()
		if !ok {
			return false
		}
		r.Space()
		if !r.Consume(':') {
			return false
		}
		r.Space()
		v, ok := r.str()
		if !ok {
			return false
		}
		m[k] = v
		r.Space()
		if r.Consume('}') {
			return true
		}
		if !r.Consume(',') {
			return false
		}
		r.Space()
	}
}
