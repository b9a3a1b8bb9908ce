package ingest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/schema"
)

// decodeItems decodes and checks a body of logs or metrics as decodeBody
// does progress: read takes the body in one pass when it can, decode is
// the strict decoder of one item that words what read gave up on, and
// validate reports the problems of one decoded item.
func decodeItems[T any](format string, body []byte, read func(*schema.Reader) (T, bool),
	decode func(i int, item []byte) (T, []schema.FieldError), validate func(item *T) []schema.FieldError) ([]T, []schema.FieldError, error) {
	items, ok := readFast(format, body, read)
	if ok {
		var problems []schema.FieldError
		for i := range items {
			problems = appendProblems(problems, i, validate(&items[i]))
		}
		return items, problems, nil
	}
	raw, err := splitItems(format, body)
	if err != nil {
		return nil, nil, err
	}
	items = make([]T, len(raw))
	var problems []schema.FieldError
	for i, r := range raw {
		var errs []schema.FieldError
		if items[i], errs = decode(i, r); errs == nil {
			errs = appendProblems(nil, i, validate(&items[i]))
		}
		problems = append(problems, errs...)
	}
	return items, problems, nil
}

// invalid is the answer to a request with bad items, counted as rejected.
func (s *Service) invalid(signal string, items int, problems []schema.FieldError) error {
	s.events.WithLabelValues(signal, "rejected").Add(float64(items))
	return &httpx.Error{
		Status:  fiber.StatusBadRequest,
		Code:    httpx.CodeValidation,
		Message: fmt.Sprintf("%d of %d items are invalid; nothing was accepted", countItems(problems), items),
		Details: problems,
	}
}

// unreadable is the answer to a body that could not be parsed at all.
func (s *Service) unreadable(signal string, err error) error {
	s.events.WithLabelValues(signal, "rejected").Inc()
	return badJSON(err)
}

// badBody is the answer to a body that is not JSON and cannot be parsed
// (Prometheus text, OTLP protobuf): a validation failure of the body, as
// invalid_json would misname it.
func (s *Service) badBody(signal string, fe schema.FieldError) error {
	s.events.WithLabelValues(signal, "rejected").Inc()
	return &httpx.Error{
		Status:  fiber.StatusBadRequest,
		Code:    httpx.CodeValidation,
		Message: fe.Error() + "; nothing was accepted",
		Details: []schema.FieldError{fe},
	}
}

// publish puts the records of one request on the bus in one call, so that
// the request is acknowledged whole or not at all.
func (s *Service) publish(ctx context.Context, signal string, recs []bus.Record) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	if err := s.bus.Publish(ctx, recs...); err != nil {
		s.events.WithLabelValues(signal, "unavailable").Add(float64(len(recs)))
		s.log.Warn("publish failed", "err", err, "signal", signal, "events", len(recs))
		return &httpx.Error{
			Status:     fiber.StatusServiceUnavailable,
			Code:       httpx.CodeUnavailable,
			Message:    "the bus cannot take data now; nothing was accepted, retry later",
			RetryAfter: s.cfg.RetryAfter,
		}
	}
	s.events.WithLabelValues(signal, "accepted").Add(float64(len(recs)))
	return nil
}

// accept publishes and answers 202 with the event ids.
func (s *Service) accept(c *fiber.Ctx, signal string, recs []bus.Record, ids []string) error {
	if err := s.publish(c.UserContext(), signal, recs); err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"accepted": len(recs), "event_ids": ids})
}

// stamper fills in what clients leave out of logs and metrics, as stamp
// does for progress.
type stamper struct {
	tenant  string
	now     int64
	order   int64
	random  *bytes.Reader
	headers map[string]string
}

// stampFields points at the server-set fields of one log record or
// metric sample.
type stampFields struct {
	tenant, eventID    *string
	timestamp, ordinal *int64
}

// stampEach stamps items and makes each a bus record on topic: fields
// says where an item's server-set fields are, encode gives its value and
// its key.
func stampEach[T any](ctx context.Context, s *Service, items []T, tenant string, now time.Time, topic string,
	fields func(*T) stampFields, encode func(*T) (value []byte, key string, err error)) ([]bus.Record, []string, error) {
	missing := 0
	for i := range items {
		if *fields(&items[i]).eventID == "" {
			missing++
		}
	}
	st, err := s.newStamper(ctx, tenant, now, len(items), missing)
	if err != nil {
		return nil, nil, err
	}
	recs := make([]bus.Record, len(items))
	ids := make([]string, len(items))
	for i := range items {
		f := fields(&items[i])
		if err := st.stamp(i, f); err != nil {
			return nil, nil, err
		}
		value, key, err := encode(&items[i])
		if err != nil {
			return nil, nil, err
		}
		recs[i] = st.record(topic, key, value)
		ids[i] = *f.eventID
	}
	return recs, ids, nil
}

// newStamper reserves n ingest orders and the randomness for missing ids,
// and makes the headers of the request's records.
func (s *Service) newStamper(ctx context.Context, tenant string, now time.Time, n, missingIDs int) (*stamper, error) {
	b := make([]byte, missingIDs*len(uuid.UUID{}))
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("stamp event id: %w", err)
	}
	return &stamper{
		tenant:  tenant,
		now:     now.UnixMilli(),
		order:   s.reserveOrder(now, n),
		random:  bytes.NewReader(b),
		headers: recordHeaders(ctx, tenant),
	}, nil
}

// stamp fills the server-set fields of item i.
func (st *stamper) stamp(i int, f stampFields) error {
	*f.tenant = st.tenant
	if *f.eventID == "" {
		id, err := uuid.NewV7FromReader(st.random)
		if err != nil {
			return fmt.Errorf("stamp event id: %w", err)
		}
		*f.eventID = id.String()
	}
	if *f.timestamp == 0 {
		*f.timestamp = st.now
	}
	*f.ordinal = st.order + int64(i)
	return nil
}

// record makes the bus record of one encoded item.
func (st *stamper) record(topic, key string, value []byte) bus.Record {
	return bus.Record{Topic: topic, Key: []byte(key), Value: value, Headers: st.headers}
}
