package apifuzz

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
)

// statusCodes are the error codes each status may carry.
var statusCodes = map[int][]string{
	400: {"invalid_json", "invalid_body", "validation_failed", "invalid_parameter"},
	401: {"unauthorized"},
	403: {"forbidden"},
	404: {"not_found"},
	409: {"conflict"},
	412: {"precondition_failed"},
	413: {"payload_too_large"},
	415: {"unsupported_media_type"},
	426: {"upgrade_required"},
	429: {"rate_limited"},
	431: {"headers_too_large"},
	503: {"unavailable"},
}

// check lists what is wrong with an answer, by what the document says.
func check(c *Case, a answer) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	op := c.op
	if a.status >= 500 {
		bad("answered %d: the server failed on this request", a.status)
	}
	if _, ok := op.responses[a.status]; !ok {
		bad("status %d is not documented for %s (documented: %v)", a.status, op, slices.Sorted(maps.Keys(op.responses)))
	}
	mediaType, _, _ := mime.ParseMediaType(a.header.Get("Content-Type"))
	if a.status >= 400 {
		checkError(c, a, mediaType, bad)
		return problems
	}
	if _, refusable := op.responses[400]; refusable && a.status < 300 {
		if name, ok := c.unknownParam(); ok {
			bad("unknown parameter %q was accepted; the document says unknown parameters are a 400 naming the parameter", name)
		}
	}
	if a.status == http.StatusNoContent || a.status == http.StatusSwitchingProtocols {
		if len(a.body) > 0 {
			bad("a %d answer has a body", a.status)
		}
		return problems
	}
	if documented := op.responses[a.status]; len(documented) > 0 && !slices.Contains(documented, mediaType) {
		bad("content type %q is not documented for %d (documented: %v)", mediaType, a.status, documented)
	}
	switch mediaType {
	case "application/json":
		if !json.Valid(a.body) {
			bad("the %d JSON body does not parse", a.status)
		}
	case "application/x-ndjson":
		for i, line := range bytes.Split(bytes.TrimRight(a.body, "\n"), []byte("\n")) {
			if len(line) > 0 && !json.Valid(line) {
				bad("line %d of the NDJSON body does not parse", i+1)
				break
			}
		}
	case "text/csv":
		if _, err := csv.NewReader(bytes.NewReader(a.body)).ReadAll(); err != nil {
			bad("the CSV body does not parse: %v", err)
		}
	}
	return problems
}

// checkError checks the body of an error answer against the Error schema.
func checkError(c *Case, a answer, mediaType string, bad func(string, ...any)) {
	if mediaType != "application/json" {
		bad("a %d answer is %q, not an application/json error", a.status, mediaType)
	}
	var e struct {
		Error *struct {
			Code    *string           `json:"code"`
			Message *string           `json:"message"`
			Details []json.RawMessage `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(a.body, &e); err != nil || e.Error == nil {
		bad("the error body is not {\"error\":{...}}: %v", err)
		return
	}
	if e.Error.Code == nil || e.Error.Message == nil {
		bad("the error has no code or no message")
		return
	}
	code := *e.Error.Code
	if codes := c.op.doc.errorCodes(); !slices.Contains(codes, code) {
		bad("error code %q is not among the documented codes %v", code, codes)
	}
	if want := statusCodes[a.status]; want != nil && !slices.Contains(want, code) {
		bad("error code %q does not fit status %d (want one of %v)", code, a.status, want)
	}
	if *e.Error.Message == "" {
		bad("the error message is empty")
	}
	sent := c.queryNames()
	for _, p := range c.op.paramsIn("path") {
		sent[p.Name] = true
	}
	for k := range c.header {
		sent[k] = true
	}
	for i, raw := range e.Error.Details {
		var d struct {
			Parameter *string `json:"parameter"`
			Field     *string `json:"field"`
			Reason    *string `json:"reason"`
		}
		if err := json.Unmarshal(raw, &d); err != nil || d.Reason == nil || (d.Parameter == nil) == (d.Field == nil) {
			bad("details[%d] is neither a ParamError nor a FieldError: %s", i, raw)
			continue
		}
		if code == "invalid_parameter" {
			if d.Parameter == nil {
				bad("details[%d] of an invalid_parameter error names no parameter: %s", i, raw)
				continue
			}
			if !sent[*d.Parameter] && !c.op.requiredParam(*d.Parameter) {
				bad("details[%d] names parameter %q, which the request does not have and the operation does not require", i, *d.Parameter)
			}
		}
	}
	if (code == "invalid_parameter" || code == "validation_failed") && len(e.Error.Details) == 0 {
		bad("a %s error has no details naming what is wrong", code)
	}
}
