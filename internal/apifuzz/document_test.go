package apifuzz

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// testDoc is a tiny document with a reference of every kind Load resolves.
const testDoc = `{
  "openapi": "3.0.3",
  "paths": {
    "/v1/things/{id}": {
      "delete": {
        "parameters": [{"$ref": "#/components/parameters/ID"}],
        "responses": {"204": {}, "404": {"$ref": "#/components/responses/Error"}}
      },
      "get": {
        "parameters": [{"$ref": "#/components/parameters/ID"}],
        "responses": {"200": {"content": {"application/json": {}}}, "404": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v1/things": {
      "parameters": [],
      "get": {
        "parameters": [
          {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50}},
          {"name": "kind", "in": "query", "required": true, "schema": {"type": "string", "enum": ["a", "b"]}}
        ],
        "responses": {"200": {"content": {"application/json": {}, "text/csv": {}}}, "400": {"$ref": "#/components/responses/Error"}}
      },
      "post": {
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
        "responses": {"201": {"content": {"application/json": {}}}, "400": {"$ref": "#/components/responses/Error"}}
      }
    }
  },
  "components": {
    "schemas": {
      "Thing": {
        "type": "object", "required": ["name"],
        "properties": {"name": {"type": "string", "maxLength": 10}, "size": {"type": "integer", "minimum": 1, "maximum": 5}}
      },
      "Error": {
        "type": "object",
        "properties": {"error": {"type": "object", "properties": {
          "code": {"type": "string", "enum": ["invalid_parameter", "validation_failed", "not_found"]},
          "message": {"type": "string"}
        }}}
      }
    },
    "parameters": {"ID": {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}},
    "responses": {"Error": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
  }
}`

func loadTestDoc(t testing.TB) *Document {
	t.Helper()
	doc, err := Load([]byte(testDoc))
	require.NoError(t, err)
	return doc
}

// operation is the test document's operation "METHOD path".
func operation(t testing.TB, doc *Document, name string) *Operation {
	t.Helper()
	for _, op := range doc.Operations() {
		if op.String() == name {
			return op
		}
	}
	t.Fatalf("no operation %s", name)
	return nil
}

func TestLoad(t *testing.T) {
	doc := loadTestDoc(t)
	var names []string
	for _, op := range doc.Operations() {
		names = append(names, op.String())
	}
	require.Equal(t, []string{"GET /v1/things", "POST /v1/things", "GET /v1/things/{id}", "DELETE /v1/things/{id}"}, names)

	get := operation(t, doc, "GET /v1/things/{id}")
	require.Len(t, get.paramsIn("path"), 1)
	require.Equal(t, "id", get.paramsIn("path")[0].Name)
	require.Equal(t, map[int][]string{200: {"application/json"}, 404: {"application/json"}}, get.responses)

	list := operation(t, doc, "GET /v1/things")
	require.Equal(t, []string{"application/json", "text/csv"}, list.responses[200])
	require.True(t, list.requiredParam("kind"))
	require.False(t, list.requiredParam("limit"))

	post := operation(t, doc, "POST /v1/things")
	require.Equal(t, "object", post.bodies["application/json"].Type)
	require.Equal(t, []string{"name"}, post.bodies["application/json"].Required)

	require.Equal(t, []string{"invalid_parameter", "validation_failed", "not_found"}, doc.errorCodes())
}

func TestLoadErrors(t *testing.T) {
	f := func(doc, want string) {
		t.Helper()
		_, err := Load([]byte(doc))
		require.ErrorContains(t, err, want)
	}
	f(`{"paths": `, "parse OpenAPI document")
	f(`{"paths": {"/a": {"get": {"parameters": [{"$ref": "#/components/parameters/Nope"}]}}}}`,
		"GET /a: unresolved parameter #/components/parameters/Nope")
	f(`{"paths": {"/a": {"get": {"responses": {"200": {"$ref": "#/components/responses/Nope"}}}}}}`,
		"GET /a: unresolved response 200")
	f(`{"paths": {"/a": {"get": {"responses": {"2XX": {}}}}}}`, `GET /a: response "2XX"`)
	f(`{"paths": {"/a": {"get": []}}}`, "GET /a: json: cannot unmarshal")
}
