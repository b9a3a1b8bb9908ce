package httpx

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"
)

// Error codes are stable: clients branch on them, so never rename one.
const (
	CodeInvalidJSON      = "invalid_json"
	CodeInvalidBody      = "invalid_body"
	CodeValidation       = "validation_failed"
	CodeInvalidParameter = "invalid_parameter"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeTooLarge         = "payload_too_large"
	CodeHeadersTooLarge  = "headers_too_large"
	CodeUnauthorized     = "unauthorized"
	CodeNotFound         = "not_found"
	CodeUnavailable      = "unavailable"
	CodePrecondition     = "precondition_failed"
	CodeInternal         = "internal"
	CodeRateLimited      = "rate_limited"
)

// Error is the body of every error answer: {"error": {...}}.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Details lists what was wrong, item by item, where that is known.
	Details any `json:"details,omitempty"`
	// RetryAfter, in seconds, is sent as the Retry-After header when set.
	RetryAfter int `json:"-"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// NewError makes an Error with no details.
func NewError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// BadParameter is the answer to a query parameter that cannot be used.
func BadParameter(name, reason string) *Error {
	return &Error{
		Status:  fiber.StatusBadRequest,
		Code:    CodeInvalidParameter,
		Message: "parameter " + name + " " + reason,
		Details: []ParamError{{Parameter: name, Reason: reason}},
	}
}

// ParamError names a bad query parameter.
type ParamError struct {
	Parameter string `json:"parameter"`
	Reason    string `json:"reason"`
}

// ErrorHandler is the Fiber error handler: it writes any error as the JSON
// error shape, so handlers just return errors.
func ErrorHandler(c *fiber.Ctx, err error) error {
	var e *Error
	var fe *fiber.Error
	switch {
	case errors.As(err, &e):
	case errors.As(err, &fe):
		e = fromFiber(fe)
	default:
		e = NewError(fiber.StatusInternalServerError, CodeInternal, "internal error")
	}
	if e.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(e.RetryAfter))
	}
	return c.Status(e.Status).JSON(fiber.Map{"error": e})
}

// fromFiber words an error of Fiber's or fasthttp's own. Their messages
// can quote the request (a malformed one, headers and all), so the answer
// says only what the status means: a request's bytes are never echoed.
func fromFiber(fe *fiber.Error) *Error {
	code, message := CodeInvalidParameter, "the request is malformed"
	switch fe.Code {
	case fiber.StatusRequestEntityTooLarge:
		code, message = CodeTooLarge, "the request body is over the limit"
	case fiber.StatusRequestHeaderFieldsTooLarge:
		code, message = CodeHeadersTooLarge, "the request headers are too large"
	case fiber.StatusNotFound:
		code, message = CodeNotFound, "no such route"
	case fiber.StatusUnsupportedMediaType:
		code, message = CodeUnsupportedMedia, "the Content-Type is not supported here"
	case fiber.StatusUnauthorized:
		code, message = CodeUnauthorized, "a valid API key is required"
	case fiber.StatusServiceUnavailable:
		code, message = CodeUnavailable, "the service is unavailable"
	case fiber.StatusMethodNotAllowed:
		message = "the method is not allowed here"
	case fiber.StatusRequestTimeout:
		message = "the request was not read in time"
	default:
		if fe.Code < 400 || fe.Code >= 500 {
			code, message = CodeInternal, "internal error"
		}
	}
	return NewError(fe.Code, code, message)
}
