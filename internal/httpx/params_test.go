package httpx

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// refused checks that err is a 400 naming param, with a reason that
// holds reason.
func refused(t *testing.T, err error, param, reason string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err %v, want a bad parameter %s", err, param)
	}
	d := e.Details.([]ParamError)[0]
	if e.Status != fiber.StatusBadRequest || e.Code != CodeInvalidParameter || d.Parameter != param || !strings.Contains(d.Reason, reason) {
		t.Fatalf("got %d %s %+v, want parameter %s: ...%s...", e.Status, e.Code, d, param, reason)
	}
}

func TestQueryFromRefuses(t *testing.T) {
	rules := QueryRules{MaxValue: 8}
	f := func(args map[string][]string, param, reason string, known ...string) {
		t.Helper()
		_, err := QueryFrom(args, rules, known...)
		refused(t, err, param, reason)
	}
	f(map[string][]string{"b": {"1"}, "a": {""}}, "b", "not a known parameter (known: a)", "a")
	f(map[string][]string{"z": {"1"}, "y": {"1"}}, "y", "(this endpoint takes none)")
	f(map[string][]string{"a": {"x", ""}}, "a", "must not be empty", "a")
	f(map[string][]string{"a": {"123456789"}}, "a", "at most 8 bytes", "a")
	f(map[string][]string{"a": {"\xff"}}, "a", "UTF-8", "a")

	q, err := QueryFrom(map[string][]string{"api_key": {""}, "a": {"x"}}, rules, "a")
	if err != nil || q.Values("a")[0] != "x" {
		t.Fatalf("api_key is the auth middleware's: %v", err)
	}
	if _, err := QueryFrom(map[string][]string{"a": {strings.Repeat("x", 100)}}, QueryRules{}, "a"); err != nil {
		t.Fatalf("no MaxValue, no bound: %v", err)
	}
}

func TestQueryReaders(t *testing.T) {
	rules := QueryRules{MaxItems: 3, Check: func(name, v string) string {
		if name == "id" && v == "bad" {
			return "is not an id"
		}
		return ""
	}}
	read := func(args map[string][]string) *Query {
		t.Helper()
		q, err := QueryFrom(args, rules, "id", "s", "flag", "limit", "since", "cursor")
		if err != nil {
			t.Fatal(err)
		}
		return q
	}

	q := read(map[string][]string{"id": {"a, b", "c"}, "s": {"x"}, "flag": {"true"}, "limit": {"7"}, "since": {"1000"}})
	if ids, err := q.List("id"); err != nil || strings.Join(ids, "|") != "a|b|c" {
		t.Fatalf("List = %v, %v", ids, err)
	}
	if s, err := q.Str("s"); err != nil || s != "x" {
		t.Fatalf("Str = %q, %v", s, err)
	}
	if s, err := q.Str("absent"); err != nil || s != "" {
		t.Fatalf("Str of an absent name = %q, %v", s, err)
	}
	if b, err := q.Bool("flag"); err != nil || !b {
		t.Fatalf("Bool = %v, %v", b, err)
	}
	if n, err := q.Limit(); err != nil || n != 7 {
		t.Fatalf("Limit = %d, %v", n, err)
	}
	if ms, err := q.Time("since"); err != nil || ms != 1000 {
		t.Fatalf("Time = %d, %v", ms, err)
	}
	if n, err := read(nil).Limit(); err != nil || n != DefaultLimit {
		t.Fatalf("default Limit = %d, %v", n, err)
	}

	_, err := read(map[string][]string{"s": {"x", "y"}}).Str("s")
	refused(t, err, "s", "must be given once")
	_, err = read(map[string][]string{"id": {"bad"}}).Str("id")
	refused(t, err, "id", "is not an id")
	_, err = read(map[string][]string{"id": {"a,  bad"}}).List("id")
	refused(t, err, "id", "is not an id")
	_, err = read(map[string][]string{"id": {"a,,b"}}).List("id")
	refused(t, err, "id", "empty items")
	_, err = read(map[string][]string{"id": {"a,b", "c,d"}}).List("id")
	refused(t, err, "id", "at most 3 items")
	_, err = read(map[string][]string{"flag": {"maybe"}}).Bool("flag")
	refused(t, err, "flag", "true or false")
	for _, limit := range []string{"0", "1001", "ten"} {
		_, err = read(map[string][]string{"limit": {limit}}).Limit()
		refused(t, err, "limit", "from 1 to 1000")
	}
	_, err = read(map[string][]string{"since": {"yesterday"}}).Time("since")
	refused(t, err, "since", TimeHelp)
}

func TestCursorRoundTrip(t *testing.T) {
	type at struct{ T int64 }
	read := func(cursor string) *Query {
		q, err := QueryFrom(map[string][]string{"cursor": {cursor}}, QueryRules{}, "cursor")
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	var got at
	if ok, err := read(EncodeCursor(at{42})).Cursor(&got); !ok || err != nil || got.T != 42 {
		t.Fatalf("Cursor = %v, %v, %+v", ok, err, got)
	}
	_, err := read("nonsense!").Cursor(&got)
	refused(t, err, "cursor", "not a cursor this API returned")
	for _, q := range []*Query{read(""), must(QueryFrom(nil, QueryRules{}))} {
		if ok, err := q.Cursor(&got); ok || err != nil {
			t.Fatalf("an empty or absent cursor is the first page: %v, %v", ok, err)
		}
	}
}

// NewQuery reads a request's parameters as QueryFrom reads a map.
func TestNewQueryReadsTheRequest(t *testing.T) {
	app := fiber.New(fiber.Config{ErrorHandler: ErrorHandler})
	app.Get("/", func(c *fiber.Ctx) error {
		q, err := NewQuery(c, QueryRules{}, "a")
		if err != nil {
			return err
		}
		vs, err := q.List("a")
		if err != nil {
			return err
		}
		return c.SendString(strings.Join(vs, "|"))
	})
	f := func(target string, status int, body string) {
		t.Helper()
		resp, err := app.Test(httptest.NewRequest("GET", target, nil))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != status || !strings.Contains(string(raw), body) {
			t.Fatalf("%s: %d %s", target, resp.StatusCode, raw)
		}
	}
	f("/?a=1&a=2,3", 200, "1|2|3")
	f("/?a=", 400, "must not be empty")
	f("/?b=1", 400, "not a known parameter")
}

func must(q *Query, err error) *Query {
	if err != nil {
		panic(err)
	}
	return q
}
