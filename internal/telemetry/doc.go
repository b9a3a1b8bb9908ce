// Package telemetry gives every TaskPulse process the same operational
// surface: Prometheus metrics on /metrics from a registry the process owns
// (never the global one), request metrics by route and status, the
// /healthz and /readyz probes, and tracing.
//
// Tracing is OpenTelemetry. NewTracing makes the process's tracer
// provider, which services are handed as they are handed a registerer: it
// exports spans over OTLP/HTTP when an endpoint is configured and records
// nothing otherwise. Trace context moves as W3C Trace Context: ServerSpan
// continues the trace of an incoming request, InjectHeaders writes the
// current span context into bus record headers, and HeadersSpanContext
// reads it back on the consuming side, so a trace crosses the bus (Kafka
// record headers) from ingest to the writer.
package telemetry
