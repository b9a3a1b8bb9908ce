package telemetry

import (
	"context"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Trace context crosses process boundaries as W3C Trace Context: the
// traceparent and tracestate headers of an HTTP request, and headers of the
// same names on bus records (Kafka record headers), so that a trace a
// client starts runs on through ingest, the bus and the writer. It is fixed
// here rather than read from the global propagator because it is part of
// the bus records' format, which every process must agree on.
var traceContext propagation.TraceContext

// HeaderTraceparent is the record header that carries a span context.
const HeaderTraceparent = "traceparent"

// InjectHeaders writes the span context of ctx into the record headers h.
// It writes nothing when ctx carries no valid span context.
func InjectHeaders(ctx context.Context, h map[string]string) {
	traceContext.Inject(ctx, propagation.MapCarrier(h))
}

// HeadersSpanContext is the span context the record headers h carry; it is
// invalid when they carry none.
func HeadersSpanContext(h map[string]string) trace.SpanContext {
	if h[HeaderTraceparent] == "" {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(traceContext.Extract(context.Background(), propagation.MapCarrier(h)))
}

// ServerSpan returns a handler to put before a route's own. It runs the
// rest of the route in a server span named "method route", a child of the
// span the request's traceparent header names (when it names one), and
// puts the span in the request's user context, where the route's handler
// finds it.
func ServerSpan(tracer trace.Tracer, method, route string) fiber.Handler {
	// Everything that does not change per request is made once: a request
	// that no one records costs one context, and none of this.
	name := method + " " + route
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	methodAttr, routeAttr := semconv.HTTPRequestMethodKey.String(method), semconv.HTTPRoute(route)
	return func(c *fiber.Ctx) error {
		ctx := traceContext.Extract(c.UserContext(), requestHeaders{c})
		ctx, span := tracer.Start(ctx, name, opts...)
		defer span.End()
		c.SetUserContext(ctx)
		err := c.Next()
		if span.IsRecording() {
			status := responseStatus(c, err)
			span.SetAttributes(methodAttr, routeAttr, semconv.HTTPResponseStatusCode(status))
			// A 4xx is the client's fault, not the server's: only 5xx
			// marks the span failed.
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
		}
		return err
	}
}

// requestHeaders reads a request's trace context headers.
type requestHeaders struct{ c *fiber.Ctx }

// Get copies the value: Fiber reuses the request's buffers, and a parsed
// trace state keeps the strings it was given.
func (r requestHeaders) Get(key string) string { return strings.Clone(r.c.Get(key)) }

func (r requestHeaders) Set(key, value string) { r.c.Request().Header.Set(key, value) }

func (r requestHeaders) Keys() []string {
	var keys []string
	for k := range r.c.GetReqHeaders() {
		keys = append(keys, k)
	}
	return keys
}
