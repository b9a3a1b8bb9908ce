package ingest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/telemetry"
	"github.com/taskpulse/taskpulse/schema"
)

// Every route ends the same way, in publish: the valid items of the
// request are stamped, the tenant's rate is checked, and the records go
// onto the bus in one call. A signal holds what differs between kinds of
// item.

// signal is one kind of item ingest takes, and what every route taking it
// shares: its topic, which is also its label on the events counter, its
// counters, and how an item is stamped and encoded.
type signal[T any] struct {
	topic string
	*outcomes
	// fields points at an item's server-set fields.
	fields func(*T) stampFields
	// encode gives a stamped item's partition key (items of one key stay
	// in order) and its bus encoding. It appends them to the request's
	// buffer when it can write into one, and allocates them otherwise.
	encode func(buf *recordBuffer, item *T) (key, value []byte, err error)
}

// outcomes are one signal's series of taskpulse_ingest_events_total,
// resolved once rather than on every request. rate_limited is left to
// limit, which resolves it only when it refuses a request.
type outcomes struct {
	accepted, rejected, unavailable prometheus.Counter
}

func newOutcomes(events *prometheus.CounterVec, topic string) *outcomes {
	return &outcomes{
		accepted:    events.WithLabelValues(topic, "accepted"),
		rejected:    events.WithLabelValues(topic, "rejected"),
		unavailable: events.WithLabelValues(topic, "unavailable"),
	}
}

// stampFields points at the server-set fields of one item.
type stampFields struct {
	tenant, eventID    *string
	timestamp, ordinal *int64
}

// publish stamps the items of one request, refuses it when the tenant is
// over its rate, and puts the records on the bus in one call, so that the
// request is acknowledged whole or not at all. It returns the event ids.
func publish[T any](c *fiber.Ctx, s *Service, sig *signal[T], items []T, now time.Time) ([]string, error) {
	recs, ids, err := stamp(c.UserContext(), s, sig, items, auth.Tenant(c), now)
	if err != nil {
		return nil, err
	}
	if err := s.limit(c, sig.topic, len(recs)); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.cfg.PublishTimeout)
	defer cancel()
	if err := s.bus.Publish(ctx, recs...); err != nil {
		sig.unavailable.Add(float64(len(recs)))
		s.log.Warn("publish failed", "err", err, "signal", sig.topic, "events", len(recs))
		return nil, &httpx.Error{
			Status:     fiber.StatusServiceUnavailable,
			Code:       httpx.CodeUnavailable,
			Message:    "the bus cannot take data now; nothing was accepted, retry later",
			RetryAfter: s.cfg.RetryAfter,
		}
	}
	sig.accepted.Add(float64(len(recs)))
	return ids, nil
}

// accepted answers 202 with the event ids of a published request.
func accepted(c *fiber.Ctx, ids []string) error {
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"accepted": len(ids), "event_ids": ids})
}

// Records are encoded into shared buffers of up to stampChunk bytes, sized
// for the records left at stampGuess bytes each (plus one, for slack): one
// allocation serves a hundred or so records. No record is started in a
// buffer with less than stampRoom left, so records rarely outgrow theirs;
// one that does moves to a larger copy, while the records before it keep
// pointing into the old.
const (
	stampChunk = 64 << 10
	stampGuess = 512
	stampRoom  = 4 << 10
)

// recordBuffer is the shared buffer of one request's records.
type recordBuffer struct {
	b    []byte
	left int // records not yet encoded, this one included
}

// begin starts a record, in a new chunk when this one is nearly full.
func (rb *recordBuffer) begin() {
	if cap(rb.b)-len(rb.b) < stampRoom {
		rb.b = make([]byte, 0, min(stampChunk, (rb.left+1)*stampGuess))
	}
}

// since is what was appended from start on, capped so that appends to
// the buffer never write into it.
func (rb *recordBuffer) since(start int) []byte {
	return rb.b[start:len(rb.b):len(rb.b)]
}

// stamp fills in what the client left out and encodes the records. The
// ingest order is strictly increasing within this process, so items of one
// request, and of later requests, keep the order ingest saw them in when
// everything else they are ordered by ties.
func stamp[T any](ctx context.Context, s *Service, sig *signal[T], items []T, tenant string, now time.Time) ([]bus.Record, []string, error) {
	recs := make([]bus.Record, len(items))
	ids := make([]string, len(items))
	order := s.reserveOrder(now, len(items))
	// The ids' randomness and the records' buffer escape to the heap (as
	// an io.Reader, as an argument of encode); one allocation holds both.
	st := new(struct {
		random bytes.Reader
		buf    recordBuffer
	})
	if err := readIDs(&st.random, items, sig.fields); err != nil {
		return nil, nil, fmt.Errorf("stamp event id: %w", err)
	}
	headers := recordHeaders(ctx, tenant)
	millis := now.UnixMilli()
	for i := range items {
		item := &items[i]
		f := sig.fields(item)
		*f.tenant = tenant
		if *f.eventID == "" {
			id, err := uuid.NewV7FromReader(&st.random)
			if err != nil {
				return nil, nil, fmt.Errorf("stamp event id: %w", err)
			}
			*f.eventID = id.String()
		}
		if *f.timestamp == 0 {
			*f.timestamp = millis
		}
		*f.ordinal = order + int64(i)
		st.buf.left = len(items) - i
		key, value, err := sig.encode(&st.buf, item)
		if err != nil {
			return nil, nil, err
		}
		recs[i] = bus.Record{Topic: sig.topic, Key: key, Value: value, Headers: headers}
		ids[i] = *f.eventID
	}
	return recs, ids, nil
}

// recordHeaders makes the headers of one request's records, which share
// them read-only, so that they cost one map per request rather than one per
// record. Every record names its tenant, so that consumers can skip a
// tenant's records without decoding them, and carries the trace context of
// the request's span, so that the trace crosses the bus to the writer.
func recordHeaders(ctx context.Context, tenant string) map[string]string {
	h := make(map[string]string, 2)
	h[schema.HeaderTenant] = tenant
	telemetry.InjectHeaders(ctx, h)
	return h
}

// readIDs reads into r, in one call, the randomness for the event ids the
// items lack: one read per event was a tenth of stamping.
func readIDs[T any](r *bytes.Reader, items []T, fields func(*T) stampFields) error {
	n := 0
	for i := range items {
		if *fields(&items[i]).eventID == "" {
			n++
		}
	}
	b := make([]byte, n*len(uuid.UUID{}))
	if _, err := rand.Read(b); err != nil {
		return err
	}
	r.Reset(b)
	return nil
}

// reserveOrder reserves n consecutive ingest orders and returns the first.
// Each is above every earlier one, and close to the time in nanoseconds so
// that it also orders well against other ingest processes.
func (s *Service) reserveOrder(now time.Time, n int) int64 {
	for {
		prev := s.order.Load()
		first := max(prev+1, now.UnixNano())
		if s.order.CompareAndSwap(prev, first+int64(n)-1) {
			return first
		}
	}
}
