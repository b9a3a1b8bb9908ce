// Package ingesttest holds the fixtures that the tests of ingest and of
// its protocol packages share: a fixed clock, a one-line form of a sample
// for exact comparison, OTLP exports with the encoder clients use, and a
// bus and store to publish to and drain into.
package ingesttest
