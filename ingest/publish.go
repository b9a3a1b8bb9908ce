package ingest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/control"
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
	// in order) and its bus encoding, both appended to the request's
	// buffer: one allocation per hundred items or so, rather than two per
	// item.
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
// request is acknowledged whole or not at all.
func publish[T any](c *fiber.Ctx, s *Service, sig *signal[T], items []T, now time.Time) error {
	recs, buf, err := stamp(c.UserContext(), s, sig, items, auth.Tenant(c), now)
	if err != nil {
		return err
	}
	if err := s.limit(c, sig.topic, len(recs)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.cfg.PublishTimeout)
	defer cancel()
	if err := s.bus.Publish(ctx, recs...); err != nil {
		sig.unavailable.Add(float64(len(recs)))
		s.log.Warn("publish failed", "err", err, "signal", sig.topic, "events", len(recs))
		return &httpx.Error{
			Status:     fiber.StatusServiceUnavailable,
			Code:       httpx.CodeUnavailable,
			Message:    "the bus cannot take data now; nothing was accepted, retry later",
			RetryAfter: s.cfg.RetryAfter,
		}
	}
	buf.release()
	sig.accepted.Add(float64(len(recs)))
	return nil
}

// paramEventIDs is the query parameter of the routes that answer 202:
// event_ids=true asks the answer to list the stamped event ids, which
// cost the client ~40 bytes an item to read and the server to write.
const paramEventIDs = "event_ids"

// listIDsKey is the request local that holds the event_ids parameter.
type listIDsKey struct{}

// eventIDsQuery checks the query of a route that answers 202: at most
// event_ids, true or false.
func eventIDsQuery(c *fiber.Ctx) error {
	q, err := httpx.NewQuery(c, httpx.QueryRules{}, paramEventIDs)
	if err != nil {
		return err
	}
	list, err := q.Bool(paramEventIDs)
	if err != nil {
		return err
	}
	c.Locals(listIDsKey{}, list)
	return c.Next()
}

// acceptedAnswer is the 202 body: how many items were accepted, and
// their event ids, in request order, when the client asked for them.
type acceptedAnswer struct {
	Accepted int      `json:"accepted"`
	EventIDs []string `json:"event_ids,omitempty"`
	// Control are the requests pending for the reported tasks, for the
	// worker that runs them; absent when there are none.
	Control []control.Delivery `json:"control,omitempty"`
}

// accepted answers 202 for the published items of a request.
func accepted[T any](c *fiber.Ctx, sig *signal[T], items []T) error {
	return acceptedWith(c, sig, items, nil)
}

// acceptedWith answers 202 for the published items of a request, with the
// control requests pending for their tasks.
func acceptedWith[T any](c *fiber.Ctx, sig *signal[T], items []T, asked []control.Delivery) error {
	answer := acceptedAnswer{Accepted: len(items), Control: asked}
	if list, _ := c.Locals(listIDsKey{}).(bool); list {
		answer.EventIDs = make([]string, len(items))
		for i := range items {
			answer.EventIDs[i] = *sig.fields(&items[i]).eventID
		}
	}
	return c.Status(fiber.StatusAccepted).JSON(answer)
}

// Records are encoded into shared buffers of up to stampChunk bytes, sized
// for the records left at stampGuess bytes each (plus one, for slack): one
// buffer serves a hundred or so records. No record is started in a
// buffer with less than stampRoom left, so records rarely outgrow theirs;
// one that does moves to a larger copy, while the records before it keep
// pointing into the old.
const (
	stampChunk = 64 << 10
	stampGuess = 512
	stampRoom  = 4 << 10
)

// chunks holds full-size record buffers whose records the bus has taken,
// for later requests: allocating them anew was a quarter of the bytes a
// request allocated, and so of the garbage collector's work.
var chunks = sync.Pool{New: func() any {
	b := make([]byte, 0, stampChunk)
	return &b
}}

// recordBuffer is the shared buffer of one request's records.
type recordBuffer struct {
	b      []byte
	left   int       // records not yet encoded, this one included
	pooled []*[]byte // the chunks taken from the pool
}

// begin starts a record, in a new chunk when this one is nearly full.
func (rb *recordBuffer) begin() {
	if cap(rb.b)-len(rb.b) >= stampRoom {
		return
	}
	if want := (rb.left + 1) * stampGuess; want < stampChunk {
		rb.b = make([]byte, 0, want)
		return
	}
	c := chunks.Get().(*[]byte)
	rb.pooled = append(rb.pooled, c)
	rb.b = (*c)[:0]
}

// release gives the buffer's pooled chunks back. Call it only once
// Publish has returned nil, after which the bus keeps nothing of the
// records.
func (rb *recordBuffer) release() {
	for _, c := range rb.pooled {
		chunks.Put(c)
	}
	rb.pooled = nil
}

// key starts a record with its partition key, and returns the key.
func (rb *recordBuffer) key(k string) []byte {
	rb.begin()
	start := len(rb.b)
	rb.b = append(rb.b, k...)
	return rb.since(start)
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
func stamp[T any](ctx context.Context, s *Service, sig *signal[T], items []T, tenant string, now time.Time) ([]bus.Record, *recordBuffer, error) {
	recs := make([]bus.Record, len(items))
	order := s.reserveOrder(now, len(items))
	ids, err := newEventIDs(items, sig.fields)
	if err != nil {
		return nil, nil, fmt.Errorf("stamp event id: %w", err)
	}
	buf := new(recordBuffer)
	headers := recordHeaders(ctx, tenant)
	millis := now.UnixMilli()
	for i := range items {
		item := &items[i]
		f := sig.fields(item)
		*f.tenant = tenant
		if *f.eventID == "" {
			*f.eventID, ids = ids[:uuidLen], ids[uuidLen:]
		}
		if *f.timestamp == 0 {
			*f.timestamp = millis
		}
		*f.ordinal = order + int64(i)
		buf.left = len(items) - i
		key, value, err := sig.encode(buf, item)
		if err != nil {
			return nil, nil, err
		}
		recs[i] = bus.Record{Topic: sig.topic, Key: key, Value: value, Headers: headers}
	}
	return recs, buf, nil
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

// uuidLen is the length of a UUID's text.
const uuidLen = 36

// newEventIDs makes a UUIDv7 for every item that lacks an event id, and
// returns their text end to end, uuidLen bytes each: one allocation for
// the randomness and one for the text per request, where one read of the
// randomness per event was a tenth of stamping, and each event's id was a
// string of its own.
func newEventIDs[T any](items []T, fields func(*T) stampFields) (string, error) {
	n := 0
	for i := range items {
		if *fields(&items[i]).eventID == "" {
			n++
		}
	}
	if n == 0 {
		return "", nil
	}
	random := make([]byte, n*len(uuid.UUID{}))
	if _, err := rand.Read(random); err != nil {
		return "", err
	}
	r := bytes.NewReader(random)
	var text strings.Builder
	text.Grow(n * uuidLen)
	for range n {
		id, err := uuid.NewV7FromReader(r)
		if err != nil {
			return "", err
		}
		var b [uuidLen]byte
		text.Write(appendUUID(b[:0], id))
	}
	return text.String(), nil
}

// appendUUID appends id's canonical text, as id.String spells it,
// without the allocation of a string.
func appendUUID(dst []byte, id uuid.UUID) []byte {
	dst = hex.AppendEncode(dst, id[:4])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, id[4:6])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, id[6:8])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, id[8:10])
	dst = append(dst, '-')
	return hex.AppendEncode(dst, id[10:])
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
