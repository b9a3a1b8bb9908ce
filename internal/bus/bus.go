// Package bus declares the message bus that joins TaskPulse's services and
// the contract every implementation keeps. Implementations live in
// subpackages: embedded (in-process, a durable log on local disk) and kafka.
//
// Data moves through it like this: ingest Publishes records and
// acknowledges its client only after Publish returns; the writer Consumes
// them in a consumer group and commits after they are in the store; every
// stream instance Subscribes and sees every record.
package bus

import (
	"context"
	"errors"
	"time"
)

// Record is one message on the bus.
type Record struct {
	Topic string
	// Key decides ordering: records with the same key keep their publish
	// order for every consumer. TaskPulse uses the task id.
	Key     []byte
	Value   []byte
	Headers map[string]string

	// Set on delivery: where the record sits in its topic.
	Partition int
	Offset    int64
}

// Handler processes one batch of records. Returning nil commits the batch;
// returning an error leaves it uncommitted, and the consumer stops.
type Handler func(ctx context.Context, batch []Record) error

// ConsumeOptions bound the batches a Handler is given.
type ConsumeOptions struct {
	// MaxBatch caps the records in one batch.
	MaxBatch int
	// MaxWait caps how long a batch waits to fill once it holds a record.
	MaxWait time.Duration
}

// Bus is the contract between TaskPulse's services and a message bus.
//
//   - Durability: when Publish returns nil, every record in the call
//     survives a crash of any process (kill -9) and of the machine's
//     power as far as fsync allows.
//   - Ordering: records with the same key reach each consumer in the order
//     they were published.
//   - Delivery: at least once. A record may be delivered again after a
//     crash or a failed handler, so consumers must be idempotent (TaskPulse
//     deduplicates by event_id).
type Bus interface {
	// Publish stores recs durably, or returns an error and the caller must
	// assume none was stored (it may retry: duplicates are removed
	// downstream). ErrUnavailable means the bus cannot take data now.
	// Once it has returned nil it keeps no reference to recs' keys, values
	// or headers, so the caller may reuse their memory.
	Publish(ctx context.Context, recs ...Record) error

	// Consume delivers the records of topics to h in batches, sharing them
	// with the other consumers of group (each record goes to one of them),
	// starting after the group's last committed record, or at the oldest
	// record for a new group. A batch is committed only after h returns
	// nil. Consume blocks until ctx ends (returning nil) or h fails
	// (returning h's error, with the batch uncommitted).
	Consume(ctx context.Context, group string, topics []string, opts ConsumeOptions, h Handler) error

	// Subscribe delivers every record published to topics from now on to
	// h, independently of any group and without commits: each subscriber
	// sees each record. "Now" is when it calls Subscribed(ctx), before
	// any delivery. It blocks until ctx ends or h fails.
	Subscribe(ctx context.Context, topics []string, h Handler) error

	// Close releases the bus. Publish, Consume and Subscribe fail after it.
	Close() error
}

// ErrUnavailable is returned by Publish when the bus cannot store records
// now (a broker is down, a disk is full). Ingest answers 503 with
// Retry-After, so clients retry later.
var ErrUnavailable = errors.New("bus unavailable")

// ErrClosed is returned by a closed bus.
var ErrClosed = errors.New("bus closed")
