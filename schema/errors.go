package schema

import (
	"strconv"
	"strings"
)

// FieldError says what is wrong with one field of one item of a request.
// Index is the item's position in the request body (0 for a single object).
type FieldError struct {
	Index  int    `json:"index"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (e FieldError) Error() string {
	return "item " + strconv.Itoa(e.Index) + ": " + e.Field + " " + e.Reason
}

// FieldErrors is every problem found in a request.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

func itoa(n int) string { return strconv.Itoa(n) }
