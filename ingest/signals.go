package ingest

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/schema"
)

// decodeItems decodes and checks a body of logs or metrics as decodeBody
// does progress: read takes the body in one pass when it can, decode is
// the strict decoder of one item that words what read gave up on, and
// validate reports the problems of one decoded item.
func decodeItems[T any](format string, body []byte, read func(*schema.Reader) (T, bool),
	decode func(i int, item []byte) (T, []schema.FieldError), validate func(item *T) []schema.FieldError) ([]T, []schema.FieldError, error) {
	items, ok := readFast(format, body, read)
	if ok {
		var problems []schema.FieldError
		for i := range items {
			problems = appendProblems(problems, i, validate(&items[i]))
		}
		return items, problems, nil
	}
	raw, err := splitItems(format, body)
	if err != nil {
		return nil, nil, err
	}
	items = make([]T, len(raw))
	var problems []schema.FieldError
	for i, r := range raw {
		var errs []schema.FieldError
		if items[i], errs = decode(i, r); decoded(errs) {
			errs = appendProblems(errs, i, validate(&items[i]))
		}
		problems = append(problems, errs...)
	}
	return items, problems, nil
}

// invalid is the answer to a request with bad items, counted as rejected.
func (o *outcomes) invalid(items int, problems []schema.FieldError) error {
	o.rejected.Add(float64(items))
	return &httpx.Error{
		Status:  fiber.StatusBadRequest,
		Code:    httpx.CodeValidation,
		Message: fmt.Sprintf("%d of %d items are invalid; nothing was accepted", countItems(problems), items),
		Details: problems,
	}
}

// unreadable is the answer to a body that could not be parsed at all.
func (o *outcomes) unreadable(err error) error {
	o.rejected.Inc()
	return badJSON(err)
}

// badBody is the answer to a body that is not JSON and cannot be parsed
// (Prometheus text, OTLP protobuf): a validation failure of the body, as
// invalid_json would misname it.
func (o *outcomes) badBody(fe schema.FieldError) error {
	o.rejected.Inc()
	return &httpx.Error{
		Status:  fiber.StatusBadRequest,
		Code:    httpx.CodeValidation,
		Message: fe.Error() + "; nothing was accepted",
		Details: []schema.FieldError{fe},
	}
}
