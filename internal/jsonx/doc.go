// Package jsonx decodes request bodies strictly, the one way every route
// of TaskPulse reads JSON: UTF-8 only, one value with nothing after it,
// every key spelt exactly as its field is (encoding/json would match
// "Status" and "ſtatus" to status), and no unknown keys. What it refuses
// it names by field path, every unknown key at once, so that an HTTP
// answer can point at all of it.
package jsonx
