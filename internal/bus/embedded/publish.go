package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/taskpulse/taskpulse/internal/bus"
)

// generation is one group commit: every Publish that appended its frames
// before the flusher took them waits on the same generation, and one
// write and fsync per dirty topic releases them all.
type generation struct {
	done chan struct{}
	err  error // set before done is closed
}

func newGeneration() *generation {
	return &generation{done: make(chan struct{})}
}

// encoder is the scratch space of one Publish call, pooled so the hot path
// does not allocate.
type encoder struct {
	buf   []byte
	spans []span
}

// span is a run of consecutive frames bound for one topic.
type span struct {
	t          *topic
	start, end int
}

var encoders = sync.Pool{New: func() any { return new(encoder) }}

// maxRetainedBuffer caps the buffers kept between flushes, so one burst
// does not pin its memory for the life of the process.
const maxRetainedBuffer = 16 << 20

// Publish appends recs to their topics and returns once an fsync covers
// all of them. Records are encoded outside any lock; the lock is held only
// to copy the frames into their topics' pending buffers.
func (b *Bus) Publish(ctx context.Context, recs ...bus.Record) error {
	if len(recs) == 0 {
		return nil
	}
	enc := encoders.Get().(*encoder)
	defer func() {
		if cap(enc.buf) <= maxRetainedBuffer {
			encoders.Put(enc)
		}
	}()
	if err := b.encode(enc, recs); err != nil {
		return err
	}

	b.pubMu.Lock()
	if b.pubClosed {
		b.pubMu.Unlock()
		return bus.ErrClosed
	}
	for _, s := range enc.spans {
		t := s.t
		t.pending = append(t.pending, enc.buf[s.start:s.end]...)
		if !t.dirty {
			t.dirty = true
			b.dirty = append(b.dirty, t)
		}
	}
	gen := b.gen
	b.pubMu.Unlock()

	select {
	case b.kick <- struct{}{}:
	default:
	}
	select {
	case <-gen.done:
		return gen.err
	case <-ctx.Done():
		return fmt.Errorf("cannot publish: %w", ctx.Err())
	}
}

// encode frames recs into enc, grouping consecutive records of one topic.
func (b *Bus) encode(enc *encoder, recs []bus.Record) error {
	enc.buf = slices.Grow(enc.buf[:0], framesSize(recs))
	enc.spans = enc.spans[:0]
	var t *topic
	for i := range recs {
		if t == nil || t.name != recs[i].Topic {
			var err error
			if t, err = b.topic(recs[i].Topic); err != nil {
				return fmt.Errorf("cannot publish: %w", err)
			}
			enc.spans = append(enc.spans, span{t: t, start: len(enc.buf)})
		}
		start := len(enc.buf)
		enc.buf = appendFrame(enc.buf, &recs[i])
		if n := len(enc.buf) - start; n > b.opts.MaxRecordBytes {
			return fmt.Errorf("cannot publish %d-byte record to topic %s: %w", n, t.name, ErrRecordTooLarge)
		}
		enc.spans[len(enc.spans)-1].end = len(enc.buf)
	}
	return nil
}

// framesSize is about the size of recs' frames, so that the
// buffer grows once rather than by doubling: the records of one call
// usually share their headers, so the first record's stand for all.
func framesSize(recs []bus.Record) int {
	headers := 0
	for k, v := range recs[0].Headers {
		headers += 2*binary.MaxVarintLen32 + len(k) + len(v)
	}
	n := len(recs) * (frameHeader + 1 + 3*binary.MaxVarintLen32 + headers)
	for i := range recs {
		n += len(recs[i].Key) + len(recs[i].Value)
	}
	return n
}

// flushLoop is the single writer of every topic log. Each round takes all
// pending frames, writes and syncs them, then releases their publishers
// and wakes readers. While it syncs, new publishers pile up for the next
// round, which is what makes one fsync serve many Publish calls.
func (b *Bus) flushLoop() {
	defer close(b.stopped)
	for {
		select {
		case <-b.kick:
			b.flush()
		case <-b.stop:
			// Close refused new publishers before stopping us, so this
			// round drains everything that was accepted.
			b.flush()
			return
		}
	}
}

func (b *Bus) flush() {
	b.pubMu.Lock()
	dirty := b.dirty
	if len(dirty) == 0 {
		b.pubMu.Unlock()
		return
	}
	b.dirty, b.spare = b.spare[:0], dirty
	for _, t := range dirty {
		t.flushing, t.pending = t.pending, t.flushing[:0]
		t.dirty = false
	}
	gen := b.gen
	b.gen = newGeneration()
	b.pubMu.Unlock()

	var errs []error
	for _, t := range dirty {
		if err := t.write(t.flushing, b.opts.SegmentBytes); err != nil {
			errs = append(errs, err)
		}
		if cap(t.flushing) > maxRetainedBuffer {
			t.flushing = nil
		}
	}
	b.wake()
	if err := errors.Join(errs...); err != nil {
		b.opts.Logger.Error("cannot write topic logs", "err", err)
		gen.err = fmt.Errorf("cannot publish: %w: %w", bus.ErrUnavailable, err)
	}
	close(gen.done)
}
