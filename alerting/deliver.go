package alerting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/taskpulse/taskpulse/alerting/channel"
	"github.com/taskpulse/taskpulse/internal/backoff"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// deliverBatch caps the notifications delivered at once; each runs its
// channels concurrently, and the batch is committed when all are done.
const deliverBatch = 32

// drainTimeout bounds recording the last attempt when stopping.
const drainTimeout = 5 * time.Second

// deliver consumes the notifications topic in the alerting group until ctx
// ends: each notification is delivered by one alerting process. A record
// is committed only once every channel is sent or given up, so one that a
// stopped process left half done is delivered again by the next owner,
// which skips what the stored history says is done.
func (s *Service) deliver(ctx context.Context) error {
	opts := bus.ConsumeOptions{MaxBatch: deliverBatch, MaxWait: 10 * time.Millisecond}
	wait := s.cfg.Delivery.RetryMin
	for {
		started := time.Now()
		err := s.bus.Consume(ctx, s.cfg.Group, []string{schema.TopicNotifications}, opts, s.handleNotifications)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > s.cfg.Delivery.RetryMax {
			wait = s.cfg.Delivery.RetryMin
		}
		s.log.Error("notification delivery stopped; restarting", "err", err, "backoff", wait)
		if !backoff.Sleep(ctx, backoff.Jitter(wait)) {
			return nil
		}
		wait = min(2*wait, s.cfg.Delivery.RetryMax)
	}
}

func (s *Service) handleNotifications(ctx context.Context, batch []bus.Record) error {
	// The same notification may be on the topic more than once (two
	// processes saw the same transition): deliver it once per batch, and
	// the stored history makes later copies no-ops.
	seen := map[[2]string]bool{}
	g, gctx := errgroup.WithContext(ctx)
	for _, rec := range batch {
		n, err := schema.DecodeNotification(rec.Value)
		if err != nil {
			s.log.Warn("skipping a notification record that does not decode", "offset", rec.Offset, "err", err)
			continue
		}
		k := [2]string{n.Tenant, n.ID}
		if seen[k] {
			continue
		}
		seen[k] = true
		g.Go(func() error { return s.deliverOne(gctx, n) })
	}
	return g.Wait()
}

func (s *Service) deliverOne(ctx context.Context, rec schema.Notification) error {
	n, _, err := s.readNotification(ctx, rec.Tenant, rec.ID)
	if errors.Is(err, store.ErrNotFound) {
		// Notifications are stored before they are published, so this
		// one was lost from the store: keep the record's copy.
		if err := s.storeFirst(ctx, &rec); err != nil {
			return err
		}
		n = rec
	} else if err != nil {
		return fmt.Errorf("deliver notification %s: %w", rec.ID, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, d := range n.Deliveries {
		if finished(d.State) {
			continue
		}
		g.Go(func() error { return s.deliverChannel(gctx, n, d.Channel) })
	}
	return g.Wait()
}

func (s *Service) storeFirst(ctx context.Context, n *schema.Notification) error {
	body, err := schema.EncodeNotification(n)
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	return s.docs.PutDocuments(ctx, store.Document{Tenant: n.Tenant, Kind: kindNotification, ID: n.ID, Version: 1, Body: body, UpdatedAt: s.now().UnixMilli()})
}

func finished(st schema.DeliveryState) bool {
	return st == schema.DeliverySent || st == schema.DeliveryGivenUp
}

// deliverChannel makes attempts on one channel until one succeeds, the
// receiver refuses for good, or MaxAttempts have failed; each attempt is
// in the stored history before the next begins, so a restart resumes the
// count and the backoff where they were.
func (s *Service) deliverChannel(ctx context.Context, n schema.Notification, name string) error {
	for {
		d, ok := delivery(&n, name)
		if !ok || finished(d.State) {
			return nil
		}
		if wait := time.Duration(d.NextAt-s.now().UnixMilli()) * time.Millisecond; wait > 0 && !backoff.Sleep(ctx, wait) {
			return ctx.Err()
		}
		// An attempt once begun is finished and recorded even if ctx ends
		// meanwhile (the channel's timeout bounds it), so the history
		// holds every request a receiver saw.
		att, state, next := s.attempt(context.WithoutCancel(ctx), &n, name, len(d.Attempts)+1)
		s.metrics.attempts.WithLabelValues(name, outcome(state)).Inc()
		if state == schema.DeliveryGivenUp {
			s.log.Warn("notification given up", "id", n.ID, "channel", name, "attempts", len(d.Attempts)+1, "err", att.Error)
		}
		var err error
		if n, err = s.recordDraining(ctx, n, name, att, state, next); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// recordDraining records an attempt even if ctx ends meanwhile, for up
// to drainTimeout after that.
func (s *Service) recordDraining(ctx context.Context, n schema.Notification, name string, att schema.Attempt, state schema.DeliveryState, next int64) (schema.Notification, error) {
	drain, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(drainTimeout, cancel)
		context.AfterFunc(drain, func() { t.Stop() })
	})
	defer stop()
	return s.recordAttempt(drain, n, name, att, state, next)
}

func delivery(n *schema.Notification, name string) (schema.Delivery, bool) {
	i := slices.IndexFunc(n.Deliveries, func(d schema.Delivery) bool { return d.Channel == name })
	if i < 0 {
		return schema.Delivery{}, false
	}
	return n.Deliveries[i], true
}

func outcome(st schema.DeliveryState) string {
	if st == schema.DeliveryFailed {
		return "failed"
	}
	return string(st)
}

// attempt sends n once on channel name and decides what follows: sent,
// failed with the time of the next attempt, or given up.
func (s *Service) attempt(ctx context.Context, n *schema.Notification, name string, number int) (schema.Attempt, schema.DeliveryState, int64) {
	att := schema.Attempt{At: s.now().UnixMilli()}
	sender, err := s.senderFor(ctx, n.Tenant, n.Rule, name)
	switch {
	case errors.Is(err, errNoChannel):
		err = &channel.Error{Permanent: true, Err: err}
	case err == nil:
		err = sender.Send(ctx, n)
	}
	if err == nil {
		att.OK = true
		return att, schema.DeliverySent, 0
	}
	// Waits count from the answer, not from the request, and from the
	// millisecond after it, so a receiver's Retry-After is honoured in full.
	answered := s.now().UnixMilli() + 1
	ce := channel.AsError(err)
	att.Status, att.Error = ce.Status, ce.Error()
	if ce.Permanent || number >= s.cfg.Delivery.MaxAttempts {
		return att, schema.DeliveryGivenUp, 0
	}
	wait := retryWait(s.cfg.Delivery.RetryMin, s.cfg.Delivery.RetryMax, number)
	if ce.RetryAfter > 0 {
		wait = min(ce.RetryAfter, s.cfg.Delivery.MaxRetryAfter)
		att.RetryAfter = wait.Milliseconds()
	}
	return att, schema.DeliveryFailed, answered + wait.Milliseconds()
}

// retryWait is the wait after the number-th failed attempt: doubling from
// min up to max, with jitter so that receivers recovering from an outage
// are not hit by every sender at once.
func retryWait(lo, hi time.Duration, number int) time.Duration {
	d := lo
	for i := 1; i < number && d < hi; i++ {
		d *= 2
	}
	return backoff.Jitter(min(d, hi))
}

// recordAttempt appends att to the channel's history, retrying the store
// until it takes it or ctx ends.
func (s *Service) recordAttempt(ctx context.Context, n schema.Notification, name string, att schema.Attempt, state schema.DeliveryState, next int64) (schema.Notification, error) {
	change := func(x *schema.Notification) bool {
		i := slices.IndexFunc(x.Deliveries, func(d schema.Delivery) bool { return d.Channel == name })
		if i < 0 || finished(x.Deliveries[i].State) {
			return false
		}
		d := &x.Deliveries[i]
		if slices.ContainsFunc(d.Attempts, func(a schema.Attempt) bool { return a.At == att.At }) {
			return false
		}
		d.Attempts = append(d.Attempts, att)
		d.State, d.NextAt = state, next
		if state == schema.DeliverySent {
			d.SentAt = att.At
			if x.SentAt == 0 {
				x.SentAt = att.At
			}
		}
		return true
	}
	wait := s.cfg.Delivery.RetryMin
	for {
		out, err := s.updateNotification(ctx, n.Tenant, n.ID, change)
		if err == nil {
			return out, nil
		}
		s.log.Warn("cannot record a delivery attempt; retrying", "id", n.ID, "channel", name, "err", err)
		if !backoff.Sleep(ctx, backoff.Jitter(wait)) {
			return n, fmt.Errorf("record delivery attempt: %w", err)
		}
		wait = min(2*wait, s.cfg.Delivery.RetryMax)
	}
}
