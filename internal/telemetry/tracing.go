package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ServiceName is the OpenTelemetry service.name of every TaskPulse process;
// the services a process runs are told apart by the taskpulse.services
// resource attribute.
const ServiceName = "taskpulse"

// TracingConfig says whether and where a process exports its spans.
type TracingConfig struct {
	// Endpoint is the base URL of an OTLP/HTTP collector, such as
	// http://127.0.0.1:4318; spans go to its /v1/traces. When empty, the
	// standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full URL) and
	// OTEL_EXPORTER_OTLP_ENDPOINT (a base URL) variables decide, and with
	// neither set no span is exported.
	Endpoint string
	// Services are the services the process runs.
	Services []string
	// Version is the build's version, recorded as service.version.
	Version string
}

// ValidateEndpoint reports whether endpoint can be an OTLP/HTTP base URL.
func ValidateEndpoint(endpoint string) error {
	if endpoint == "" {
		return nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL with a host", endpoint)
	}
	return nil
}

// Tracing is a process's tracer provider. Services take it as a
// trace.TracerProvider.
type Tracing struct {
	trace.TracerProvider
	sdk *sdktrace.TracerProvider // nil when nothing is exported
	log *slog.Logger
}

// NewTracing sets up tracing for a process. With an OTLP endpoint, from
// cfg or the environment, spans are batched and exported over OTLP/HTTP;
// without one the provider is a no-op, which costs next to nothing, yet
// still passes on the trace context a client sent. Either way it makes W3C
// Trace Context the process's propagator.
func NewTracing(ctx context.Context, cfg TracingConfig, log *slog.Logger) (*Tracing, error) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "tracing")
	if err := ValidateEndpoint(cfg.Endpoint); err != nil {
		return nil, fmt.Errorf("OTLP endpoint: %w", err)
	}
	if cfg.Endpoint == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" {
		return &Tracing{TracerProvider: noop.NewTracerProvider(), log: log}, nil
	}
	var opts []otlptracehttp.Option
	if cfg.Endpoint != "" {
		// The flag is a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is.
		traces, err := url.JoinPath(cfg.Endpoint, "v1/traces")
		if err != nil {
			return nil, fmt.Errorf("OTLP endpoint %q: %w", cfg.Endpoint, err)
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(traces))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create OTLP trace exporter: %w", err)
	}
	// Attributes from OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME come
	// last, so that they override these.
	attrs := []attribute.KeyValue{semconv.ServiceName(ServiceName)}
	if len(cfg.Services) > 0 {
		attrs = append(attrs, servicesKey.StringSlice(cfg.Services))
	}
	if cfg.Version != "" {
		attrs = append(attrs, semconv.ServiceVersion(cfg.Version))
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attrs...),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithProcessPID(),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("describe the process for tracing: %w", err)
	}
	// Export failures are reported through the global error handler; send
	// them to the process's log rather than the standard logger.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("exporting spans failed", "err", err)
	}))
	sdk := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
	)
	log.Info("exporting spans over OTLP/HTTP", "endpoint", endpointForLog(cfg.Endpoint))
	return &Tracing{TracerProvider: sdk, sdk: sdk, log: log}, nil
}

// Exporting reports whether spans leave the process.
func (t *Tracing) Exporting() bool { return t.sdk != nil }

// Shutdown exports the spans still queued and stops the exporter, waiting
// at most timeout, so that the last batches before a stop are not lost.
// Spans started afterwards are dropped.
func (t *Tracing) Shutdown(timeout time.Duration) {
	if t.sdk == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := t.sdk.Shutdown(ctx); err != nil {
		t.log.Warn("flushing spans at stop failed", "err", err)
	}
}

// servicesKey names the services a process runs on its resource.
const servicesKey = attribute.Key("taskpulse.services")

// endpointForLog says where spans go without printing credentials a URL
// may carry.
func endpointForLog(endpoint string) string {
	if endpoint == "" {
		if v := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); v != "" {
			endpoint = v
		} else {
			endpoint = strings.TrimSuffix(os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), "/") + "/v1/traces"
		}
	}
	if u, err := url.Parse(endpoint); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
}
