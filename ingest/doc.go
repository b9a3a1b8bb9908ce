// Package ingest takes signals in over HTTP and moves them onto the bus;
// package writer, below it, drains the bus into the store.
//
// The HTTP side (Service) decodes a request body (one JSON object, a JSON
// array, or NDJSON; Prometheus text through package promtext; OTLP/HTTP
// through package otlp), validates every item, stamps what the client left
// out (event_id, timestamp, ingest order; the tenant always comes from the
// API key) and publishes the whole request in one bus call. It answers 202
// (200 for OTLP) only after the bus holds the records durably, with the
// count of items and, when the client asks with event_ids=true, their
// event ids, and, for progress, the control requests pending for the
// reported tasks (Deps.Control, asked only while some request waits
// anywhere); and 400 with every bad item and field when anything is wrong,
// in which case nothing of the request is published. Every route ends in
// publish, whatever the signal: stamp, the tenant's rate limit, one bus
// call.
//
// Traces cross the bus to the writer. Every POST runs in a span, a child of
// the client's traceparent header when it sends one, and every record of
// the request carries that span's context in its traceparent header
// (telemetry.InjectHeaders). Each insert of the writer is a span of its own
// ("writer.store"), linked to the spans that published its records.
package ingest
