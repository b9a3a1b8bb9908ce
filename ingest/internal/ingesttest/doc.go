// Package ingesttest holds the fixtures that the tests of ingest and of
// its protocol packages share: a fixed clock, a one-line form of a sample
// for exact comparison, and OTLP exports with the encoder clients use.
package ingesttest
