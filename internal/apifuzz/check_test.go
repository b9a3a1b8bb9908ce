package apifuzz

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	doc := loadTestDoc(t)
	list := operation(t, doc, "GET /v1/things")
	del := operation(t, doc, "DELETE /v1/things/{id}")
	plain := &Case{op: list, path: "/v1/things", query: []pair{{"kind", "a"}, {"limit", "5"}}}
	unknown := &Case{op: list, path: "/v1/things", query: []pair{{"kind", "a"}, {"zz", "1"}}}
	gone := &Case{op: del, path: "/v1/things/x"}

	// f checks c against a canned answer; want are parts of the problems
	// expected, in order, none when empty.
	f := func(c *Case, status int, contentType, body string, want ...string) {
		t.Helper()
		problems := check(c, answer{status: status, header: http.Header{"Content-Type": {contentType}}, body: []byte(body)})
		require.Len(t, problems, len(want), "%q", problems)
		for i, w := range want {
			require.Contains(t, problems[i], w)
		}
	}
	const ct = "application/json"
	f(plain, 200, ct, `{"things":[]}`)
	f(plain, 200, "text/csv", "a,b\n1,2\n")
	f(plain, 200, ct, `{"things":`, "JSON body does not parse")
	f(plain, 200, "text/csv", "a,\"b\n", "CSV body does not parse")
	f(plain, 200, "text/html", "<p>", `content type "text/html" is not documented for 200`)
	f(plain, 500, ct, `{}`, "answered 500", "status 500 is not documented", "error body is not")
	f(unknown, 200, ct, `{}`, `unknown parameter "zz" was accepted`)
	f(plain, 400, "text/plain", "bad", `a 400 answer is "text/plain"`, "error body is not")
	f(plain, 400, ct, `{"error":{"code":"invalid_parameter","message":"m","details":[{"parameter":"limit","reason":"r"}]}}`)
	f(plain, 400, ct, `{"error":{"code":"invalid_parameter","message":"m","details":[{"parameter":"other","reason":"r"}]}}`,
		`names parameter "other", which the request does not have`)
	f(plain, 400, ct, `{"error":{"code":"invalid_parameter","message":"m","details":[{"field":"f","reason":"r"}]}}`,
		"names no parameter")
	f(plain, 400, ct, `{"error":{"code":"validation_failed","message":"m"}}`, "has no details")
	f(plain, 400, ct, `{"error":{"code":"validation_failed","message":"m","details":[{"reason":"r"}]}}`, "neither a ParamError nor a FieldError")
	f(plain, 400, ct, `{"error":{"code":"not_found","message":""}}`, `does not fit status 400`, "message is empty")
	f(plain, 400, ct, `{"error":{"message":"m"}}`, "no code or no message")
	f(gone, 404, ct, `{"error":{"code":"bogus","message":"m"}}`, `"bogus" is not among the documented codes`, "does not fit status 404")
	f(gone, 204, "", "")
	f(gone, 204, "", "x", "a 204 answer has a body")
}

func TestRun(t *testing.T) {
	doc := loadTestDoc(t)
	op := operation(t, doc, "GET /v1/things")
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Has("boom") {
			w.WriteHeader(http.StatusInternalServerError)
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	target := testTarget
	target.BaseURL = srv.URL

	r := Run(context.Background(), target, QueryCase(op, "/v1/things", "kind=a", target))
	require.True(t, r.OK(), "%+v", r)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "kind=a", got.URL.RawQuery)
	require.Equal(t, "Bearer "+target.Key, got.Header.Get("Authorization"))

	r = Run(context.Background(), target, QueryCase(op, "/v1/things", "kind=a&boom", target))
	require.False(t, r.OK())
	require.Equal(t, http.StatusInternalServerError, r.Status)
	require.True(t, strings.HasPrefix(r.Answer, "500 application/json"), r.Answer)

	srv.Close()
	r = Run(context.Background(), target, QueryCase(op, "/v1/things", "kind=a", target))
	require.Error(t, r.Err)
	require.Zero(t, r.Status)
}
