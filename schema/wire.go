package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// HeaderTenant is the bus record header that repeats the record's tenant,
// so that a consumer can pass over other tenants' records undecoded.
const HeaderTenant = "tenant"

// Bus topics, one per signal.
const (
	TopicProgress   = "progress"
	TopicDeadLetter = "deadletter"
)

// EncodeProgress encodes p as it travels on the bus. The encoding is JSON
// so that records stay readable with ordinary Kafka tools.
func EncodeProgress(p *Progress) ([]byte, error) {
	return AppendProgress(make([]byte, 0, 512), p)
}

// AppendProgress appends the encoding of p to dst. Its output is byte for
// byte what encoding/json writes for p; it exists because ingest encodes
// every event it accepts, and reflection made that a fifth of its CPU.
func AppendProgress(dst []byte, p *Progress) ([]byte, error) {
	if p.Progress != nil && (math.IsNaN(*p.Progress) || math.IsInf(*p.Progress, 0)) {
		// Let encoding/json word the error it gives for these.
		_, err := json.Marshal(p)
		return dst, err
	}
	b := append(dst, '{')
	if p.Tenant != "" {
		b = appendKey(b, `"tenant":`)
		b = appendString(b, p.Tenant)
	}
	if p.EventID != "" {
		b = appendKey(b, `"event_id":`)
		b = appendString(b, p.EventID)
	}
	if p.Timestamp != 0 {
		b = appendKey(b, `"timestamp":`)
		b = strconv.AppendInt(b, p.Timestamp, 10)
	}
	if p.Seq != 0 {
		b = appendKey(b, `"seq":`)
		b = strconv.AppendInt(b, p.Seq, 10)
	}
	if p.IngestOrder != 0 {
		b = appendKey(b, `"ingest_order":`)
		b = strconv.AppendInt(b, p.IngestOrder, 10)
	}
	b = appendKey(b, `"task_id":`)
	b = appendString(b, p.TaskID)
	if p.UserID != "" {
		b = appendKey(b, `"user_id":`)
		b = appendString(b, p.UserID)
	}
	if p.TaskType != "" {
		b = appendKey(b, `"task_type":`)
		b = appendString(b, p.TaskType)
	}
	if p.TaskName != "" {
		b = appendKey(b, `"task_name":`)
		b = appendString(b, p.TaskName)
	}
	b = appendKey(b, `"status":`)
	b = appendString(b, string(p.Status))
	if p.Progress != nil {
		b = appendKey(b, `"progress":`)
		b = appendFloat(b, *p.Progress)
	}
	if p.CurrentStep != "" {
		b = appendKey(b, `"current_step":`)
		b = appendString(b, p.CurrentStep)
	}
	if p.StepsDone != 0 {
		b = appendKey(b, `"steps_done":`)
		b = strconv.AppendInt(b, p.StepsDone, 10)
	}
	if p.StepsTotal != 0 {
		b = appendKey(b, `"steps_total":`)
		b = strconv.AppendInt(b, p.StepsTotal, 10)
	}
	if p.Message != "" {
		b = appendKey(b, `"message":`)
		b = appendString(b, p.Message)
	}
	if p.ETA != nil {
		b = appendKey(b, `"eta":`)
		b = strconv.AppendInt(b, *p.ETA, 10)
	}
	if p.Error != "" {
		b = appendKey(b, `"error":`)
		b = appendString(b, p.Error)
	}
	if len(p.Attributes) > 0 {
		b = appendKey(b, `"attributes":`)
		b = appendAttributes(b, p.Attributes)
	}
	return append(b, '}'), nil
}

// appendKey writes a member name, after a comma unless it is the first.
func appendKey(b []byte, key string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	return append(b, key...)
}

// appendAttributes writes m with its keys sorted, as encoding/json does.
func appendAttributes(b []byte, m map[string]string) []byte {
	var stack [MaxAttributes]string
	keys := stack[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

// appendFloat formats f as encoding/json does: plain decimals, exponents
// only for very small and very large magnitudes.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Shorten e-09 to e-9.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// safeByte marks the bytes appendString copies as they are.
var safeByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString quotes s as encoding/json does by default: HTML-sensitive
// characters, U+2028 and U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if safeByte[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// DecodeProgress decodes a bus record written by EncodeProgress, or any
// JSON object of a Progress, into what json.Unmarshal makes of it, and
// checks the fields that every stored record must have: a record missing
// them cannot be stored and belongs in the dead-letter topic.
func DecodeProgress(b []byte) (Progress, error) {
	p, err := decodeRecord(b, readProgress)
	if err != nil {
		return p, fmt.Errorf("decode progress record: %w", err)
	}
	if p.Tenant == "" || p.EventID == "" || p.TaskID == "" || p.Timestamp == 0 || !p.Status.Valid() {
		return p, fmt.Errorf("decode progress record: missing tenant, event_id, task_id, timestamp or status")
	}
	return p, nil
}

// readProgress reads a bus record on the fast path.
func readProgress(b []byte) (Progress, bool) {
	r := busReader(b)
	p, ok := r.Progress()
	return p, ok && r.Done()
}
