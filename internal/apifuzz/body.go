package apifuzz

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

const (
	ctJSON  = "application/json"
	ctProto = "application/x-protobuf"
)

// bodyCases send bodies derived from the schema, then broken ones.
func (g *Generator) bodyCases() {
	for _, ct := range slices.Sorted(maps.Keys(g.op.bodies)) {
		s := g.op.bodies[ct]
		isJSON := ct == ctJSON && s.Type != "string"
		for range 4 {
			if isJSON {
				g.add(&Case{what: "valid " + ct + " body", header: http.Header{"Content-Type": {ct}}, body: g.marshal(g.value(s, "", 0))})
			} else {
				g.add(&Case{what: "valid " + ct + " body", header: http.Header{"Content-Type": {ct}}, body: g.textBody(ct, s)})
			}
		}
		if !isJSON {
			continue
		}
		// Each mutation is applied to a fresh valid body.
		for range 40 {
			body := g.value(s, "", 0)
			muts := g.bodyMutations(s, body, func(nv any) { body = nv })
			if len(muts) == 0 {
				break
			}
			muts[g.rnd.IntN(len(muts))]()
			g.add(&Case{what: "mutated body", header: http.Header{"Content-Type": {ct}}, body: g.marshal(body)})
		}
		// Items in an array: one bad among good ones.
		if item := g.itemSchema(s); item != s {
			good := g.value(item, "", 0)
			bad := g.value(item, "", 0).(map[string]any)
			for _, k := range item.Required {
				delete(bad, k)
				break
			}
			g.add(&Case{what: "array with a bad item", header: http.Header{"Content-Type": {ct}}, body: g.marshal([]any{good, bad, good})})
		}
	}
	ct, valid := g.validBody()
	for _, raw := range []string{"", "null", "[]", "{}", `"str"`, "123", "[null]", "[[]]", "[1,2]", "{", "}", "[", "{\"a\":", "\xef\xbb\xbf{}",
		"{\"a\":\"\xff\xfe\"}", `{"a":1,"a":2}`, `{"a":NaN}`, `{"a":1e400}`, strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
		strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000), "\x00\x01\x02", "<xml/>", "a=b&c=d", "\n\n\n", "{}\n{}\n", "{} {}"} {
		g.add(&Case{what: "junk body", header: http.Header{"Content-Type": {ct}}, body: []byte(raw)})
	}
	if len(valid) > 2 {
		for _, cut := range []int{1, len(valid) / 2, len(valid) - 1} {
			g.add(&Case{what: "truncated body", header: http.Header{"Content-Type": {ct}}, body: valid[:cut]})
		}
	}
	for _, wrong := range []string{"", "text/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", "text/plain; version=0.0.5",
		"application/x-protobuf", "application/json; charset=utf-8", "APPLICATION/JSON", "application/jsonx", "application/problem+json", "application/json; charset=utf-16",
		"application/x-ndjson", ";;;", "ünï/cødé"} {
		g.add(&Case{what: "content type", header: http.Header{"Content-Type": {wrong}}, body: valid})
	}
	big := append(append([]byte(`{"x":"`), bytes.Repeat([]byte("x"), g.target.BodyLimit+10)...), '"', '}')
	g.add(&Case{what: "body over the limit", header: http.Header{"Content-Type": {ct}}, body: big})
}

// validBody is a body of a documented content type, derived from its schema.
func (g *Generator) validBody() (string, []byte) {
	if s := g.op.bodies[ctJSON]; s != nil {
		return ctJSON, g.marshal(g.value(s, "", 0))
	}
	ct := slices.Sorted(maps.Keys(g.op.bodies))[0]
	return ct, g.textBody(ct, g.op.bodies[ct])
}

func (g *Generator) marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("BUG: generated value does not encode: " + err.Error())
	}
	return b
}

// itemSchema is the object schema of a body that is one object or an
// array of them.
func (g *Generator) itemSchema(s *schema) *schema {
	for _, o := range s.OneOf {
		if o := g.schema(o); o.Type == "object" {
			return o
		}
	}
	return s
}

// textBody is a body of a content type whose schema is a string: lines of
// JSON items (NDJSON), the Prometheus text format, or OTLP protobuf.
func (g *Generator) textBody(ct string, s *schema) []byte {
	switch {
	case strings.Contains(ct, "ndjson") || strings.Contains(ct, "jsonl") || strings.Contains(ct, "jsonlines"):
		item := g.itemSchema(g.op.bodies[ctJSON])
		var b bytes.Buffer
		for range 1 + g.rnd.IntN(3) {
			b.Write(g.marshal(g.value(item, "", 0)))
			b.WriteByte('\n')
		}
		return b.Bytes()
	case strings.HasPrefix(ct, "text/plain"):
		return []byte(fmt.Sprint(s.Example))
	case ct == ctProto:
		return nil // an empty export request
	}
	return []byte(fmt.Sprint(s.Example))
}

// value is a valid-looking value of schema s for the property named name.
func (g *Generator) value(s *schema, name string, depth int) any {
	s = g.schema(s)
	if len(s.OneOf) > 0 {
		return g.value(s.OneOf[g.rnd.IntN(len(s.OneOf))], name, depth)
	}
	if len(s.Enum) > 0 {
		return s.Enum[g.rnd.IntN(len(s.Enum))]
	}
	now := g.Now.UnixMilli()
	switch s.Type {
	case "object":
		obj := map[string]any{}
		for _, k := range slices.Sorted(maps.Keys(s.Properties)) {
			if slices.Contains(s.Required, k) || (depth < 3 && g.rnd.IntN(3) == 0) {
				obj[k] = g.value(s.Properties[k], k, depth+1)
			}
		}
		if add := additional(s); add != nil && depth < 3 {
			for i := range g.rnd.IntN(3) {
				obj[fmt.Sprintf("k%d", i)] = g.value(add, "", depth+1)
			}
		}
		if _, ok := s.Properties["kind"]; ok && s.Properties["params"] != nil && g.rnd.IntN(4) != 0 {
			g.fitRule(obj)
		}
		return obj
	case "array":
		n := 1 + g.rnd.IntN(2)
		if s.MinItems != nil && *s.MinItems > n {
			n = *s.MinItems
		}
		out := make([]any, n)
		for i := range out {
			out[i] = g.value(s.Items, name, depth+1)
		}
		return out
	case "integer":
		switch name {
		case "timestamp", "starts_at":
			return now - int64(g.rnd.IntN(3_600_000))
		case "ends_at":
			return now + 3_600_000
		}
		lo, hi := 0, 100
		if s.Minimum != nil {
			lo = int(*s.Minimum)
		}
		if s.Maximum != nil {
			hi = int(*s.Maximum)
		}
		return lo + g.rnd.IntN(hi-lo+1)
	case "number":
		lo, hi := 0.0, 100.0
		if s.Minimum != nil {
			lo = *s.Minimum
		}
		if s.Maximum != nil {
			hi = *s.Maximum
		}
		return lo + float64(g.rnd.IntN(int(hi-lo)+1))
	case "boolean":
		return g.rnd.IntN(2) == 0
	case "string":
		switch {
		case strings.Contains(s.Description, "Go duration"):
			return g.pick([]string{"5m", "1h", "30s"})
		case s.Example != nil:
			return fmt.Sprint(s.Example)
		case name == "task_id" && g.target.Values["task_id"] != nil:
			return g.pick(g.target.Values["task_id"])
		}
		return fmt.Sprintf("fz_%s%d", name, g.rnd.IntN(100))
	}
	return nil
}

// fitRule makes most generated alert rules valid for their kind, which
// the schema cannot say: each kind takes its own params, task kinds take
// task_type and no interval, and channels must be configured ones.
func (g *Generator) fitRule(rule map[string]any) {
	params := map[string]map[string]any{
		"metric_threshold": {"metric": g.target.Metrics[0], "agg": "max", "window": "5m", "op": ">", "threshold": 50},
		"error_log_rate":   {"window": "5m", "op": ">=", "threshold": 3},
		"task_failed":      {},
		"task_stalled":     {"stalled_after": "1h"},
		"task_slow":        {"max_duration": "2h"},
	}
	kind := fmt.Sprint(rule["kind"])
	if params[kind] == nil {
		return
	}
	rule["params"] = params[kind]
	if strings.HasPrefix(kind, "task_") {
		delete(rule, "interval")
	} else {
		delete(rule, "task_type")
	}
	if _, ok := rule["channels"]; ok {
		channels := make([]any, len(g.target.Channels))
		for i, c := range g.target.Channels {
			channels[i] = c
		}
		rule["channels"] = channels
	}
	// The id is the path's on PUT, a new one on POST.
	delete(rule, "id")
}

// additional is the schema of an object's additional properties, if it
// gives one.
func additional(s *schema) *schema {
	if len(s.AdditionalProperties) == 0 || s.AdditionalProperties[0] != '{' {
		return nil
	}
	var a schema
	if json.Unmarshal(s.AdditionalProperties, &a) != nil {
		return nil
	}
	return &a
}

// wrongType is a value of another JSON type than schema s.
func (g *Generator) wrongType(s *schema) []any {
	switch g.schema(s).Type {
	case "string":
		return []any{12345, true, []any{"x"}, map[string]any{}}
	case "integer":
		return []any{"12", 1.5, 1e300, -9.3e18, true}
	case "number":
		return []any{"12", "NaN", false, []any{}}
	case "boolean":
		return []any{"true", 1}
	case "object":
		return []any{"x", []any{}, 1}
	case "array":
		return []any{"x", map[string]any{"a": 1}, 1}
	}
	return []any{map[string]any{"deep": []any{1}}, "x"}
}

// oversized is a value beyond the length or range the schema allows.
func (g *Generator) oversized(s *schema) []any {
	s = g.schema(s)
	switch s.Type {
	case "string":
		n := 20_000
		if s.MaxLength != nil {
			n = *s.MaxLength + 1
		}
		return []any{strings.Repeat("x", n), strings.Repeat("é", n), ""}
	case "integer":
		out := []any{json.Number("9223372036854775808"), json.Number("-9223372036854775809"), -1}
		if s.Maximum != nil {
			out = append(out, int(*s.Maximum)+1)
		}
		return out
	case "number":
		out := []any{json.Number("1e400"), json.Number("-1e400"), -1e308}
		if s.Maximum != nil {
			out = append(out, *s.Maximum+1)
		}
		if s.Minimum != nil {
			out = append(out, *s.Minimum-1)
		}
		return out
	case "array":
		many := make([]any, 1001)
		for i := range many {
			many[i] = g.value(s.Items, "", 2)
		}
		return []any{[]any{}, many}
	case "object":
		many := map[string]any{}
		for i := range 100 {
			many[fmt.Sprintf("k%d", i)] = "v"
		}
		return []any{many}
	}
	return nil
}

// bodyMutations vary a valid value: each field missing, of a wrong type,
// too big, and an unknown field, at every level the schema describes.
// set replaces the value itself.
func (g *Generator) bodyMutations(s *schema, v any, set func(any)) []func() {
	s = g.schema(s)
	if s == nil {
		return nil
	}
	var out []func()
	switch v := v.(type) {
	case map[string]any:
		s = g.branch(s, "object")
		for _, k := range slices.Sorted(maps.Keys(s.Properties)) {
			ps := s.Properties[k]
			if slices.Contains(s.Required, k) {
				out = append(out, func() { delete(v, k) })
			}
			for _, w := range append(append(g.wrongType(ps), nil), g.oversized(ps)...) {
				out = append(out, func() { v[k] = w })
			}
			if old, had := v[k]; had {
				out = append(out, g.bodyMutations(ps, old, func(nv any) { v[k] = nv })...)
			}
		}
		out = append(out, func() { v["zz_extra"] = 1 }, func() { v[""] = "x" })
	case []any:
		s = g.branch(s, "array")
		if len(v) > 0 {
			out = append(out, g.bodyMutations(s.Items, v[0], func(nv any) { v[0] = nv })...)
		}
		out = append(out, func() { set(append(v, nil)) }, func() { set([]any{}) })
	}
	return out
}

// branch is the alternative of a oneOf schema of the given type.
func (g *Generator) branch(s *schema, typ string) *schema {
	for _, o := range s.OneOf {
		if o := g.schema(o); o.Type == typ {
			return o
		}
	}
	return s
}
