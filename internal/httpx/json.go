package httpx

import (
	"encoding/json"
	"errors"
	"mime"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/jsonx"
)

// RequireJSON refuses a body whose Content-Type is not application/json
// with 415. Browsers send text/plain and form bodies across sites without
// asking first; JSON they do not, so this check is also what keeps other
// sites' pages from writing through a user's browser.
func RequireJSON(c *fiber.Ctx) error {
	if mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); err != nil || mt != fiber.MIMEApplicationJSON {
		return NewError(fiber.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Content-Type must be application/json")
	}
	return nil
}

// DecodeJSON reads a JSON request body into v as every route does: the
// Content-Type checked, then jsonx.Decode's strict rules. Its errors are
// the one error shape: 415, or 400 naming every field that is wrong.
func DecodeJSON(c *fiber.Ctx, v any) error {
	if err := RequireJSON(c); err != nil {
		return err
	}
	return JSONProblem(jsonx.Decode(c.Body(), v))
}

// EncodeJSON is the server's JSON encoder (fiber.Config.JSONEncoder): it
// ends every answer with a newline, as a line of text should, so that
// answers printed by curl or read line by line stay apart.
func EncodeJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// FieldProblem names a field of a JSON body and what is wrong with it.
type FieldProblem struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// JSONProblem turns what jsonx.Decode returned into a 400: invalid_json
// when the body is not JSON, validation_failed listing every field that
// is wrong.
func JSONProblem(err error) error {
	var ps jsonx.Problems
	if !errors.As(err, &ps) {
		return err
	}
	code := CodeValidation
	if ps.Syntax() {
		code = CodeInvalidJSON
	}
	details := make([]FieldProblem, len(ps))
	for i, p := range ps {
		details[i] = FieldProblem{Field: p.Field, Reason: p.Reason}
	}
	return &Error{
		Status:  fiber.StatusBadRequest,
		Code:    code,
		Message: "request body: " + ps.Error(),
		Details: details,
	}
}
