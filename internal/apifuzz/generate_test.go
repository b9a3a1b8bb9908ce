package apifuzz

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var testTarget = Target{
	BaseURL:   "http://127.0.0.1:1",
	Key:       "test-key-0123456789",
	OtherKey:  "other-key-0123456789",
	BodyLimit: 1 << 10,
	IDs:       map[string][]string{"/v1/things/{id}": {"thing-1", "thing-2"}},
}

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func cases(op *Operation, seed uint64) []string {
	g := NewGenerator(testTarget, op, seed)
	g.Now = testNow
	var out []string
	for _, c := range g.Cases() {
		out = append(out, c.String())
	}
	return out
}

func TestGeneratorIsDeterministic(t *testing.T) {
	doc := loadTestDoc(t)
	for _, op := range doc.Operations() {
		t.Run(op.String(), func(t *testing.T) {
			first := cases(op, 1)
			require.NotEmpty(t, first)
			require.LessOrEqual(t, len(first), maxCases)
			require.Equal(t, first, cases(op, 1), "the same seed made other cases")
			if op.Method == http.MethodPost {
				// Only generated bodies depend on the seed here.
				require.NotEqual(t, first, cases(op, 2), "another seed made the same cases")
			}
		})
	}
}

func TestGeneratorCases(t *testing.T) {
	doc := loadTestDoc(t)
	g := NewGenerator(testTarget, operation(t, doc, "GET /v1/things/{id}"), 1)
	var sawID, sawMissing bool
	for _, c := range g.Cases() {
		if !strings.Contains(c.rawQuery, "api_key=") {
			require.NotContains(t, c.String(), testTarget.Key, "the key shows in %s", c)
		}
		sawID = sawID || c.path == "/v1/things/thing-1" || c.path == "/v1/things/thing-2"
		sawMissing = sawMissing || c.path == "/v1/things/does-not-exist"
	}
	require.True(t, sawID, "no case names a thing that exists")
	require.True(t, sawMissing, "no case names a thing that does not exist")

	g = NewGenerator(testTarget, operation(t, doc, "POST /v1/things"), 1)
	var over bool
	for _, c := range g.Cases() {
		require.NotNil(t, c.body, "a case without a body: %s", c)
		over = over || len(c.body) > testTarget.BodyLimit
	}
	require.True(t, over, "no body is over the limit")

	g = NewGenerator(testTarget, operation(t, doc, "GET /v1/things"), 1)
	for _, c := range g.Cases() {
		if c.what == "required parameters only" {
			require.True(t, strings.HasPrefix(c.queryString(), "kind="), c.String())
		}
	}
}

func TestQueryCaseAndSeeds(t *testing.T) {
	doc := loadTestDoc(t)
	op := operation(t, doc, "GET /v1/things")
	c := QueryCase(op, "/v1/things", "kind=a b&x=\x80#", testTarget)
	require.Equal(t, "/v1/things?kind=a%20b&x=%80%23", c.target())
	require.Equal(t, "Bearer "+testTarget.Key, c.header.Get("Authorization"))

	seeds := QuerySeeds(NewGenerator(testTarget, op, 1).Cases(), 5)
	require.Len(t, seeds, 5)
	for _, q := range seeds {
		require.NotContains(t, q, "api_key=", "a seed carries its own key")
	}
}
