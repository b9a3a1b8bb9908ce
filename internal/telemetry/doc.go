// Package telemetry gives every TaskPulse process the same operational
// surface: Prometheus metrics on /metrics from a registry the process owns
// (never the global one), request metrics by route and status, and the
// /healthz and /readyz probes.
package telemetry
