// Package writer drains the bus into the store: the writer service of
// taskpulse serve --services.
//
// A Writer consumes the progress, logs and metrics topics in one consumer
// group, decodes records in batches, sends undecodable ones to the
// dead-letter topic with the reason, inserts the rest into the store
// (retrying with backoff while the store is down) and lets the bus commit
// only after the insert succeeded. The store ignores event_ids it already
// holds, so a redelivered batch changes nothing. Each insert is a span
// ("writer.store") linked to the spans that published its records, at
// most MaxLinks of them.
package writer
