// Package samples turns what a metrics protocol sends (a value, a
// summary, a histogram) into schema.Metric samples, as Prometheus stores
// them, and remembers where in the request each sample came from.
//
// The protocol parsers (ingest/promtext, ingest/otlp) build a Set with a
// Builder per series: Add for a plain value, Summary and Histogram for
// the families that expand into several series (_bucket with le, a
// quantile label, _sum, _count). Set.Validate then checks every sample as
// a JSON sample is checked, and words each problem with its Origin, a
// line of Prometheus text or an OTLP data point. Sharing the expansion
// keeps a histogram the same whichever protocol brought it.
//
// It lives under ingest/internal because how a histogram becomes samples
// is ingest's decision, not part of the schema the other services read.
package samples
