package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
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
	if p.Progress != nil && !finite(*p.Progress) {
		// Let encoding/json word the error it gives for these.
		_, err := json.Marshal(p)
		return dst, err
	}
	b := append(dst, '{')
	b = appendStringField(b, `"tenant":`, p.Tenant)
	b = appendStringField(b, `"event_id":`, p.EventID)
	b = appendIntField(b, `"timestamp":`, p.Timestamp)
	b = appendIntField(b, `"seq":`, p.Seq)
	b = appendIntField(b, `"ingest_order":`, p.IngestOrder)
	b = appendKey(b, `"task_id":`)
	b = appendString(b, p.TaskID)
	b = appendStringField(b, `"user_id":`, p.UserID)
	b = appendStringField(b, `"task_type":`, p.TaskType)
	b = appendStringField(b, `"task_name":`, p.TaskName)
	b = appendKey(b, `"status":`)
	b = appendString(b, string(p.Status))
	if p.Progress != nil {
		b = appendKey(b, `"progress":`)
		b = appendFloat(b, *p.Progress)
	}
	b = appendStringField(b, `"current_step":`, p.CurrentStep)
	b = appendIntField(b, `"steps_done":`, p.StepsDone)
	b = appendIntField(b, `"steps_total":`, p.StepsTotal)
	b = appendStringField(b, `"message":`, p.Message)
	if p.ETA != nil {
		b = appendKey(b, `"eta":`)
		b = strconv.AppendInt(b, *p.ETA, 10)
	}
	b = appendStringField(b, `"error":`, p.Error)
	b = appendMapField(b, `"attributes":`, p.Attributes)
	return append(b, '}'), nil
}

// AppendLog appends the encoding of l to dst, byte for byte what
// encoding/json writes for l, as AppendProgress does for progress: with
// reflection, encoding was a quarter of ingest's CPU under log load.
func AppendLog(dst []byte, l *Log) []byte {
	b := append(dst, '{')
	b = appendStringField(b, `"tenant":`, l.Tenant)
	b = appendStringField(b, `"event_id":`, l.EventID)
	b = appendIntField(b, `"timestamp":`, l.Timestamp)
	b = appendIntField(b, `"ingest_order":`, l.IngestOrder)
	b = appendStringField(b, `"task_id":`, l.TaskID)
	b = appendStringField(b, `"user_id":`, l.UserID)
	b = appendKey(b, `"level":`)
	b = appendString(b, string(l.Level))
	b = appendKey(b, `"message":`)
	b = appendString(b, l.Message)
	b = appendStringField(b, `"source":`, l.Source)
	b = appendStringField(b, `"trace_id":`, l.TraceID)
	b = appendStringField(b, `"span_id":`, l.SpanID)
	b = appendMapField(b, `"attributes":`, l.Attributes)
	return append(b, '}')
}

// AppendMetric appends the encoding of m to dst, byte for byte what
// encoding/json writes for m, as AppendProgress does for progress.
func AppendMetric(dst []byte, m *Metric) ([]byte, error) {
	if !finite(m.Value) {
		// Let encoding/json word the error it gives for these.
		_, err := json.Marshal(m)
		return dst, err
	}
	b := append(dst, '{')
	b = appendStringField(b, `"tenant":`, m.Tenant)
	b = appendStringField(b, `"event_id":`, m.EventID)
	b = appendIntField(b, `"timestamp":`, m.Timestamp)
	b = appendIntField(b, `"ingest_order":`, m.IngestOrder)
	b = appendKey(b, `"name":`)
	b = appendString(b, m.Name)
	b = appendStringField(b, `"kind":`, string(m.Kind))
	b = appendKey(b, `"value":`)
	b = appendFloat(b, m.Value)
	b = appendStringField(b, `"unit":`, m.Unit)
	b = appendMapField(b, `"labels":`, m.Labels)
	b = appendStringField(b, `"task_id":`, m.TaskID)
	return append(b, '}'), nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// appendStringField writes an omitempty string member.
func appendStringField(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return appendString(appendKey(b, key), v)
}

// appendIntField writes an omitempty integer member.
func appendIntField(b []byte, key string, v int64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(appendKey(b, key), v, 10)
}

// appendMapField writes an omitempty string map member.
func appendMapField(b []byte, key string, m map[string]string) []byte {
	if len(m) == 0 {
		return b
	}
	return appendAttributes(appendKey(b, key), m)
}

// appendKey writes a member name, after a comma unless it is the first.
func appendKey(b []byte, key string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	return append(b, key...)
}

// appendAttributes writes m with its keys sorted, as encoding/json does.
// The entries are taken in one pass over the map, rather than keys first
// and a lookup of each value after the sort.
func appendAttributes(b []byte, m map[string]string) []byte {
	type entry struct{ k, v string }
	var stack [MaxAttributes]entry
	entries := stack[:0]
	for k, v := range m {
		entries = append(entries, entry{k, v})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.k, b.k) })
	b = append(b, '{')
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, e.k)
		b = append(b, ':')
		b = appendString(b, e.v)
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
