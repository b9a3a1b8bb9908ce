// Package schema defines the signals TaskPulse carries, how they are
// validated, and how they are encoded on the bus.
//
// A client sends signals as JSON. Ingest decodes them into these types,
// validates every item with Validate, stamps what the client left out
// (event_id, timestamp, ingest order and tenant) and publishes the encoded
// record. Every later stage (writer, stream, alerting) decodes the same
// bytes with Decode, so this package is the one place the wire format lives.
// Reader decodes both client bodies and bus records in one pass without
// reflection, and leaves whatever it does not plainly recognise to
// encoding/json.
package schema
