package alerting

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Every body is JSON by Content-Type, strictly decoded, and bounded
// field by field; the answer names what is wrong.
func TestAlertingInputIsStrict(t *testing.T) {
	e := newEnv(t, "")
	s := e.start(t)
	future := time.Now().Add(time.Hour).UnixMilli()
	matcher := `{"name":"rule","op":"=","value":"x"}`
	f := func(method, path, contentType, body string, status int, field string) {
		t.Helper()
		got, answer := s.as(t, "", method, path, contentType, body)
		require.Equal(t, status, got, "%s %s %q: %v", method, path, body, answer)
		if field != "" {
			require.Contains(t, details(t, answer), field, "%s %s %q: %v", method, path, body, answer)
		}
	}
	rule := `{"kind":"task_failed"}`
	silence := `{"matchers":[` + matcher + `],"duration":"1h"}`
	channel := `{"name":"c","type":"slack","url":"https://203.0.113.9/x"}`
	for _, r := range []struct{ path, body, text string }{
		{"/v1/alert-rules", rule, "name"}, {"/v1/silences", silence, "comment"}, {"/v1/alert-channels", channel, "template"},
	} {
		// A cross-site form post is text/plain: refused before it is read.
		f("POST", r.path, "text/plain", r.body, http.StatusUnsupportedMediaType, "")
		f("POST", r.path, "", r.body, http.StatusUnsupportedMediaType, "")
		f("POST", r.path, ctJSON, r.body+`{}`, http.StatusBadRequest, "body")
		f("POST", r.path, ctJSON, r.body+` x`, http.StatusBadRequest, "body")
		// Text that is not UTF-8, raw or escaped, is refused rather than
		// stored with replacement characters.
		for _, bad := range []string{"\xff", `\ud800`} {
			f("POST", r.path, ctJSON, strings.Replace(r.body, `{"`, `{"`+r.text+`":"a`+bad+`","`, 1), http.StatusBadRequest, r.text)
		}
	}
	f("PUT", "/v1/alert-rules/x", "text/plain", rule, http.StatusUnsupportedMediaType, "")
	f("PUT", "/v1/alert-channels/c", "application/x-www-form-urlencoded", channel, http.StatusUnsupportedMediaType, "")
	f("POST", "/v1/alert-rules", ctJSON, `{"Kind":"task_failed"}`, http.StatusBadRequest, "Kind")
	f("POST", "/v1/alert-rules", ctJSON, `{"kind":"task_failed","ſeverity":"info"}`, http.StatusBadRequest, "ſeverity")

	// Rules.
	f("POST", "/v1/alert-rules", ctJSON, `{"kind":"task_failed","repeat_interval":"1ns"}`, http.StatusBadRequest, "repeat_interval")
	f("POST", "/v1/alert-rules", ctJSON, `{"kind":"task_failed","repeat_interval":"59s"}`, http.StatusBadRequest, "repeat_interval")
	f("POST", "/v1/alert-rules", ctJSON, `{"kind":"task_failed","repeat_interval":"1m"}`, http.StatusCreated, "")
	f("POST", "/v1/alert-rules", ctJSON, `{"kind":"task_failed","for":"721h"}`, http.StatusBadRequest, "for")
	f("POST", "/v1/alert-rules", ctJSON, `{"kind":"task_stalled","params":{"stalled_after":"2000000h"}}`, http.StatusBadRequest, "params.stalled_after")
	f("POST", "/v1/alert-rules", ctJSON, `{"kind":"task_slow","params":{"max_duration":"-1h","rate_after":"9999h","min_rate":1}}`, http.StatusBadRequest, "params.rate_after")
	f("POST", "/v1/alert-rules", ctJSON, `{"kind":"task_failed","name":"`+strings.Repeat("n", 513)+`"}`, http.StatusBadRequest, "name")
	f("POST", "/v1/alert-rules", ctJSON, `{"kind":"task_failed","task_type":"`+strings.Repeat("n", 513)+`"}`, http.StatusBadRequest, "task_type")
	f("POST", "/v1/alert-rules", ctJSON, `{"kind":"task_failed","matchers":[`+strings.Repeat(matcher+",", maxMatchers)+matcher+`]}`, http.StatusBadRequest, "matchers")
	f("POST", "/v1/alert-rules", ctJSON, `{"kind":"task_failed","matchers":[{"name":"a","op":"=~","value":"`+strings.Repeat("a", 1025)+`"}]}`, http.StatusBadRequest, "matchers[0].value")
	f("POST", "/v1/alert-rules", ctJSON, `{"kind":"task_failed","matchers":[{"name":"`+strings.Repeat("a", 129)+`","op":"=","value":"x"}]}`, http.StatusBadRequest, "matchers[0].name")
	many := strings.Repeat(`"c",`, maxChannelsPerRule) + `"c"`
	f("POST", "/v1/alert-rules", ctJSON, `{"kind":"task_failed","channels":[`+many+`]}`, http.StatusBadRequest, "channels")

	// Query rules, on a store that has metrics and logs.
	e.series, e.logs = e.store, e.store
	q := e.start(t)
	g := func(body string, field string) {
		t.Helper()
		got, answer := q.as(t, "", "POST", "/v1/alert-rules", ctJSON, body)
		require.Equal(t, http.StatusBadRequest, got, "%s: %v", body, answer)
		require.Contains(t, details(t, answer), field, "%s: %v", body, answer)
	}
	g(`{"kind":"error_log_rate","params":{"window":"5m","threshold":1e12}}`, "params.threshold")
	g(`{"kind":"error_log_rate","params":{"window":"48h","threshold":1}}`, "params.window")
	g(`{"kind":"error_log_rate","interval":"1s","params":{"window":"5m","threshold":1}}`, "interval")
	g(`{"kind":"metric_threshold","params":{"metric":"m","agg":"max","window":"5m","op":">","threshold":1,"group_by":["`+
		strings.Repeat(`a","`, maxGroupBy)+`a"]}}`, "params.group_by")
	got, answer := q.as(t, "", "POST", "/v1/alert-rules", ctJSON, `{"kind":"error_log_rate","interval":"10s","params":{"window":"5m","threshold":10000}}`)
	require.Equal(t, http.StatusCreated, got, "%v", answer)

	// Silences.
	f("POST", "/v1/silences", ctJSON, `{"matchers":[`+matcher+`],"duration":"1h","comment":"`+strings.Repeat("c", 1025)+`"}`, http.StatusBadRequest, "comment")
	f("POST", "/v1/silences", ctJSON, `{"matchers":[`+matcher+`],"duration":"1h","created_by":"`+strings.Repeat("c", 257)+`"}`, http.StatusBadRequest, "created_by")
	f("POST", "/v1/silences", ctJSON, `{"matchers":[`+matcher+`],"duration":"8761h"}`, http.StatusBadRequest, "duration")
	f("POST", "/v1/silences", ctJSON, fmt.Sprintf(`{"matchers":[%s],"ends_at":%d}`, matcher, time.Now().Add(2*maxSilenceAhead).UnixMilli()), http.StatusBadRequest, "ends_at")
	f("POST", "/v1/silences", ctJSON, fmt.Sprintf(`{"matchers":[%s],"starts_at":%d,"ends_at":%d}`, matcher, future, future), http.StatusBadRequest, "ends_at")
	f("POST", "/v1/silences", ctJSON, fmt.Sprintf(`{"matchers":[%s],"starts_at":-5,"ends_at":%d}`, matcher, future), http.StatusBadRequest, "starts_at")
	f("POST", "/v1/silences", ctJSON, `{"matchers":[`+strings.Repeat(matcher+",", maxMatchers)+matcher+`],"duration":"1h"}`, http.StatusBadRequest, "matchers")

	// Empty query parameters are mistakes, not absent filters.
	for _, query := range []string{"severity=", "user_id=", "since=", "until=", "unread=", "limit=", "severity=info,,critical"} {
		name, _, _ := strings.Cut(query, "=")
		f("GET", "/v1/notifications?"+query, "", "", http.StatusBadRequest, name)
	}
	f("GET", "/v1/notifications?severity=info", "", "", http.StatusOK, "")
}

// A tenant may hold only so many rules, and silences that have not
// expired.
func TestAlertingCountsPerTenant(t *testing.T) {
	e := newEnv(t, "")
	s := e.start(t)
	for i := range maxRulesPerTenant {
		status, body := s.as(t, "", "POST", "/v1/alert-rules", ctJSON, fmt.Sprintf(`{"id":"r%d","kind":"task_failed"}`, i))
		require.Equal(t, http.StatusCreated, status, "%v", body)
	}
	status, body := s.as(t, "", "POST", "/v1/alert-rules", ctJSON, `{"id":"one-more","kind":"task_failed"}`)
	require.Equal(t, http.StatusConflict, status, "%v", body)
	status, body = s.as(t, "", "PUT", "/v1/alert-rules/r0", ctJSON, `{"kind":"task_failed","severity":"info"}`)
	require.Equal(t, http.StatusOK, status, "changing a rule is not making one: %v", body)

	silence := `{"matchers":[{"name":"rule","op":"=","value":"x"}],"duration":"1h"}`
	var last string
	for range maxSilencesPerTenant {
		status, body := s.as(t, "", "POST", "/v1/silences", ctJSON, silence)
		require.Equal(t, http.StatusCreated, status, "%v", body)
		last = body["id"].(string)
	}
	status, body = s.as(t, "", "POST", "/v1/silences", ctJSON, silence)
	require.Equal(t, http.StatusConflict, status, "%v", body)
	status, _ = s.as(t, "", "DELETE", "/v1/silences/"+last, "", "")
	require.Equal(t, http.StatusNoContent, status)
	status, body = s.as(t, "", "POST", "/v1/silences", ctJSON, silence)
	require.Equal(t, http.StatusCreated, status, "%v", body)
}

func TestRuleParamsOfAnotherKindAreRefused(t *testing.T) {
	s := newEnv(t, "").start(t)
	f := func(body string, status int, fields ...string) {
		t.Helper()
		got, answer := s.as(t, "", "POST", "/v1/alert-rules", ctJSON, body)
		require.Equal(t, status, got, "%s: %v", body, answer)
		for _, field := range fields {
			require.Contains(t, details(t, answer), field, body)
		}
	}
	f(`{"id":"r2","kind":"task_failed","params":{"min_level":"AAA","window":"5m"}}`, http.StatusBadRequest, "params.min_level", "params.window")
	f(`{"id":"r3","kind":"task_slow","params":{"max_duration":"30m","stalled_after":"5m"}}`, http.StatusBadRequest, "params.stalled_after")
	f(`{"id":"r4","kind":"task_slow","params":{"max_duration":"30m"}}`, http.StatusCreated)
}
