package otlp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"mime"
	"slices"
	"strconv"
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/taskpulse/taskpulse/ingest/internal/samples"
	"github.com/taskpulse/taskpulse/internal/jsonx"
	"github.com/taskpulse/taskpulse/schema"
)

// Body encodings of OTLP/HTTP, named as their Content-Type.
const (
	Protobuf = "application/x-protobuf"
	JSON     = "application/json"
)

// The top-level keys of the exports in OTLP JSON, the one field of
// LogsData and MetricsData.
const (
	LogsKey    = "resourceLogs"
	MetricsKey = "resourceMetrics"
)

// FirstKeyIs reports whether body is a JSON object whose first key is
// key, spelt without escapes: the shape of an export as exporters write
// it, its one field first. It reads no further than that key, and does
// not check that the rest is JSON.
func FirstKeyIs(body []byte, key string) bool {
	const space = " \t\r\n"
	rest, ok := bytes.CutPrefix(bytes.TrimLeft(body, space), []byte{'{'})
	if !ok {
		return false
	}
	rest, ok = bytes.CutPrefix(bytes.TrimLeft(rest, space), []byte{'"'})
	if !ok {
		return false
	}
	rest, ok = bytes.CutPrefix(rest, []byte(key))
	return ok && len(rest) > 0 && rest[0] == '"'
}

// Encoding maps a Content-Type to Protobuf or JSON; ok is false for any
// other media type.
func Encoding(contentType string) (encoding string, ok bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || (mt != Protobuf && mt != JSON) {
		return "", false
	}
	return mt, true
}

// nothing is the error of an export that holds nothing to store: none
// when no key was ignored, as exporters send empty exports when nothing
// happened; else a KeyError naming the first ignored key, which may have
// held the data.
func nothing(ignored, what string) error {
	if ignored == "" {
		return nil
	}
	return KeyError{schema.FieldError{Field: ignored, Reason: "is not a known field, and the export has no " + what}}
}

// unmarshal decodes body into m. The JSON mapping ignores unknown
// fields, as the OTLP specification asks of receivers, so that clients on
// a newer protocol version keep working; ignored is the path of the first
// such key, for a caller left with nothing to store to name. A key that is
// an OTLP field's name in another case ("ResourceLogs", "ſcopeLogs") is
// not a newer field but a misspelt one, and is refused with a KeyError:
// keys are matched exactly, as in the other JSON bodies.
func unmarshal(encoding string, body []byte, m proto.Message) (ignored string, err error) {
	if encoding == Protobuf {
		if err := proto.Unmarshal(body, m); err != nil {
			return "", schema.FieldError{Field: "body", Reason: "is not a valid OTLP protobuf message: " + err.Error()}
		}
		return "", nil
	}
	body, err = hexIDsToBase64(body)
	if err != nil {
		return "", err
	}
	if protojson.Unmarshal(body, m) == nil {
		return "", nil
	}
	proto.Reset(m)
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, m); err != nil {
		return "", schema.FieldError{Field: "body", Reason: "is not valid OTLP JSON: " + err.Error()}
	}
	// Only a body with unknown keys gets here, and pays for a second look.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", schema.FieldError{Field: "body", Reason: "is not valid JSON: " + jsonx.Reason(err)}
	}
	var misspelt *schema.FieldError
	unknownKeys(v, m.ProtoReflect().Descriptor(), "", func(path, key string, md protoreflect.MessageDescriptor) {
		if ignored == "" {
			ignored = path
		}
		if misspelt != nil {
			return
		}
		fields := md.Fields()
		for i := range fields.Len() {
			if fd := fields.Get(i); strings.EqualFold(key, fd.JSONName()) || strings.EqualFold(key, string(fd.Name())) {
				misspelt = &schema.FieldError{Field: path, Reason: "is not a known field; OTLP spells it " + fd.JSONName()}
				return
			}
		}
	})
	if misspelt != nil {
		return "", KeyError{*misspelt}
	}
	return ignored, nil
}

// KeyError is a key of OTLP JSON refused in a body that parsed: a key
// misspelt, or a key ignored in an export that holds nothing else. It is a
// validation failure, not a body that is not OTLP.
type KeyError struct{ schema.FieldError }

// unknownKeys walks a decoded JSON value beside the message it decodes
// into, in key order, and calls found with the path of each key that
// names no field of md, as protojson matches names.
func unknownKeys(v any, md protoreflect.MessageDescriptor, path string, found func(path, key string, md protoreflect.MessageDescriptor)) {
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	fields := md.Fields()
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		at := key
		if path != "" {
			at = path + "." + key
		}
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByTextName(key)
		}
		switch {
		case fd == nil:
			found(at, key, md)
		case fd.Message() == nil || fd.IsMap():
		case fd.IsList():
			list, _ := obj[key].([]any)
			for i, item := range list {
				unknownKeys(item, fd.Message(), at+"["+strconv.Itoa(i)+"]", found)
			}
		default:
			unknownKeys(obj[key], fd.Message(), at, found)
		}
	}
}

// OTLP/JSON writes trace and span ids as hex strings, unlike the
// protobuf JSON mapping of bytes (base64) that protojson implements.
var idFields = map[string]bool{"traceId": true, "spanId": true, "trace_id": true, "span_id": true}

// hexIDsToBase64 rewrites the hex trace and span ids of an OTLP/JSON body
// as base64, for protojson. Bodies without ids are returned as they are;
// the others are decoded once more, which only they pay for.
func hexIDsToBase64(body []byte) ([]byte, error) {
	if !bytes.Contains(body, []byte(`Id"`)) && !bytes.Contains(body, []byte(`_id"`)) {
		return body, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, schema.FieldError{Field: "body", Reason: "is not valid JSON: " + jsonx.Reason(err)}
	}
	if err := rewriteIDs(v); err != nil {
		return nil, schema.FieldError{Field: "body", Reason: err.Error()}
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("re-encode OTLP JSON: %w", err)
	}
	return out, nil
}

func rewriteIDs(v any) error {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if s, ok := child.(string); ok && idFields[k] {
				b, err := hex.DecodeString(s)
				if err != nil {
					return fmt.Errorf("has %s %q, which is not hex", k, s)
				}
				v[k] = base64.StdEncoding.EncodeToString(b)
				continue
			}
			if err := rewriteIDs(child); err != nil {
				return err
			}
		}
	case []any:
		for _, child := range v {
			if err := rewriteIDs(child); err != nil {
				return err
			}
		}
	}
	return nil
}

// attrs collects OTLP attributes into one string map; later layers
// (scope over resource, record over scope) win on a shared key.
type attrs map[string]string

func (a attrs) add(kvs []*commonpb.KeyValue) {
	for _, kv := range kvs {
		a[kv.GetKey()] = anyString(kv.GetValue())
	}
}

func (a attrs) clone() attrs {
	c := make(attrs, len(a))
	for k, v := range a {
		c[k] = v
	}
	return c
}

// scopeAttrs is the attributes of a resource and one instrumentation scope,
// the scope named as in OpenTelemetry's semantic conventions.
func scopeAttrs(resource []*commonpb.KeyValue, scope *commonpb.InstrumentationScope) attrs {
	a := attrs{}
	a.add(resource)
	if scope.GetName() != "" {
		a["otel.scope.name"] = scope.GetName()
	}
	if scope.GetVersion() != "" {
		a["otel.scope.version"] = scope.GetVersion()
	}
	a.add(scope.GetAttributes())
	return a
}

// anyString stringifies an attribute value or a log body: scalars as they
// print, bytes in base64 (as OTLP/JSON writes them), arrays and maps as
// JSON.
func anyString(v *commonpb.AnyValue) string {
	switch p := anyPlain(v).(type) {
	case nil:
		return ""
	case string:
		return p
	case bool:
		return strconv.FormatBool(p)
	case int64:
		return strconv.FormatInt(p, 10)
	case float64:
		return samples.FormatFloat(p)
	default:
		b, err := json.Marshal(p)
		if err != nil {
			panic("BUG: marshal OTLP value: " + err.Error())
		}
		return string(b)
	}
}

// anyPlain turns an AnyValue into the Go value whose JSON reads naturally.
// Non-finite doubles, which JSON cannot hold, become strings.
func anyPlain(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		if math.IsNaN(x.DoubleValue) || math.IsInf(x.DoubleValue, 0) {
			return samples.FormatFloat(x.DoubleValue)
		}
		return x.DoubleValue
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		out := make([]any, len(x.ArrayValue.GetValues()))
		for i, e := range x.ArrayValue.GetValues() {
			out[i] = anyPlain(e)
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		out := make(map[string]any, len(x.KvlistValue.GetValues()))
		for _, kv := range x.KvlistValue.GetValues() {
			out[kv.GetKey()] = anyPlain(kv.GetValue())
		}
		return out
	}
	return nil
}
