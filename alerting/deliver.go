package alerting

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskpulse/taskpulse/alerting/channel"
	"github.com/taskpulse/taskpulse/internal/backoff"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// deliverBatch caps the notifications taken from the topic at once.
const deliverBatch = 32

// drainTimeout bounds recording the last attempt when stopping.
const drainTimeout = 5 * time.Second

// notificationBus is the part of the bus the deliverer uses: it
// publishes notifications and takes them in the alerting group.
type notificationBus interface {
	Publish(ctx context.Context, recs ...bus.Record) error
	Consume(ctx context.Context, group string, topics []string, opts bus.ConsumeOptions, h bus.Handler) error
}

// senderFunc finds the sender that channel name means, at the moment of
// delivery, for a notification of tenant's rule; errNoChannel when the
// rule may not use one of that name.
type senderFunc func(ctx context.Context, tenant, rule, name string) (channel.Sender, error)

// deliverer takes notifications for delivery (enqueue) and delivers
// them, each on its channels, each channel of each notification on its
// own: a slow or failing receiver neither cancels nor waits for another.
type deliverer struct {
	group    string
	cfg      DeliveryConfig
	policy   backoff.Policy // the waits between attempts and between tries of the store
	bus      notificationBus
	notes    *noteStore
	sender   senderFunc
	log      *slog.Logger
	now      func() time.Time
	attempts *prometheus.CounterVec
}

// enqueue stores n and publishes it for delivery. It is the evaluator's
// notifyFunc.
func (d *deliverer) enqueue(ctx context.Context, n *schema.Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	if err := d.notes.create(ctx, n, body); err != nil {
		return fmt.Errorf("store notification: %w", err)
	}
	rec := bus.Record{Topic: schema.TopicNotifications, Key: []byte(n.ID), Value: body,
		Headers: map[string]string{schema.HeaderTenant: n.Tenant}}
	if err := d.bus.Publish(ctx, rec); err != nil {
		return fmt.Errorf("publish notification: %w", err)
	}
	return nil
}

// errConsumeReturned is a Consume that ended while its context had not:
// the deliverer consumes again, as after a failure.
var errConsumeReturned = errors.New("consume returned before the deliverer stopped")

// run consumes the notifications topic in the alerting group until ctx
// ends: each notification is delivered by one alerting process. A record
// is committed only once every channel is sent or given up, so one that a
// stopped process left half done is delivered again by the next owner,
// which skips what the stored history says is done.
func (d *deliverer) run(ctx context.Context) error {
	opts := bus.ConsumeOptions{MaxBatch: deliverBatch, MaxWait: 10 * time.Millisecond}
	policy := d.policy
	policy.ResetAfter = d.policy.Max
	policy.OnRetry = func(err error, wait time.Duration) {
		d.log.Error("notification delivery stopped; restarting", "err", err, "backoff", wait)
	}
	_ = backoff.Retry(ctx, policy, func(ctx context.Context) error {
		err := d.bus.Consume(ctx, d.group, []string{schema.TopicNotifications}, opts, d.handle)
		if ctx.Err() != nil {
			return nil
		}
		return cmp.Or(err, errConsumeReturned)
	})
	return nil
}

// handle delivers a batch. The same notification may be on the topic
// more than once (two processes saw the same transition): it is delivered
// once per batch, and the stored history makes later copies no-ops.
func (d *deliverer) handle(ctx context.Context, batch []bus.Record) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	seen := map[noteKey]bool{}
	for _, rec := range batch {
		n, err := schema.DecodeNotification(rec.Value)
		if err != nil {
			d.log.Warn("skipping a notification record that does not decode", "offset", rec.Offset, "err", err)
			continue
		}
		k := noteKey{n.Tenant, n.ID}
		if seen[k] {
			continue
		}
		seen[k] = true
		wg.Go(func() {
			if err := d.deliver(ctx, n); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// deliver delivers one notification on every channel not yet done.
func (d *deliverer) deliver(ctx context.Context, rec schema.Notification) error {
	n, _, err := d.notes.read(ctx, rec.Tenant, rec.ID)
	if errors.Is(err, store.ErrNotFound) {
		// Notifications are stored before they are published, so this
		// one was lost from the store: keep the record's copy.
		body, err := schema.EncodeNotification(&rec)
		if err != nil {
			return fmt.Errorf("encode notification: %w", err)
		}
		if err := d.notes.create(ctx, &rec, body); err != nil {
			return err
		}
		n = rec
	} else if err != nil {
		return fmt.Errorf("deliver notification %s: %w", rec.ID, err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, dl := range n.Deliveries {
		if finished(dl.State) {
			continue
		}
		wg.Go(func() {
			if err := d.deliverChannel(ctx, n, dl.Channel); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func finished(st schema.DeliveryState) bool {
	return st == schema.DeliverySent || st == schema.DeliveryGivenUp
}

// deliverChannel makes attempts on one channel until one succeeds, the
// receiver refuses for good, or MaxAttempts have failed. Each attempt is
// in the stored history before the next begins, and the wait before it
// is the one the history holds, so a restart resumes the count and the
// backoff where they were.
func (d *deliverer) deliverChannel(ctx context.Context, n schema.Notification, name string) error {
	dl, ok := delivery(&n, name)
	if !ok || finished(dl.State) {
		return nil
	}
	if wait := d.untilNext(dl); wait > 0 && !backoff.Sleep(ctx, wait) {
		return ctx.Err()
	}
	return backoff.Retry(ctx, backoff.Policy{}, func(ctx context.Context) error {
		dl, _ := delivery(&n, name)
		number := len(dl.Attempts) + 1
		// An attempt once begun is finished and recorded even if ctx ends
		// meanwhile (the channel's timeout bounds it), so the history
		// holds every request a receiver saw.
		att, state, next := d.attempt(context.WithoutCancel(ctx), &n, name, number)
		d.attempts.WithLabelValues(name, outcome(state)).Inc()
		if state == schema.DeliveryGivenUp {
			d.log.Warn("notification given up", "id", n.ID, "channel", name, "attempts", number, "err", att.Error)
		}
		var err error
		if n, err = d.recordDraining(ctx, n, name, att, state, next); err != nil {
			return backoff.Permanent(err)
		}
		if ctx.Err() != nil {
			return backoff.Permanent(ctx.Err())
		}
		dl, ok := delivery(&n, name)
		if !ok || finished(dl.State) {
			return nil
		}
		return backoff.After(d.untilNext(dl), errors.New(cmp.Or(att.Error, "attempt failed")))
	})
}

// untilNext is how long the history says to wait before dl's next
// attempt.
func (d *deliverer) untilNext(dl schema.Delivery) time.Duration {
	return max(0, time.Duration(dl.NextAt-d.now().UnixMilli())*time.Millisecond)
}

// recordDraining records an attempt even if ctx ends meanwhile, for up
// to drainTimeout after that.
func (d *deliverer) recordDraining(ctx context.Context, n schema.Notification, name string, att schema.Attempt, state schema.DeliveryState, next int64) (schema.Notification, error) {
	drain, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(drainTimeout, cancel)
		context.AfterFunc(drain, func() { t.Stop() })
	})
	defer stop()
	return d.recordAttempt(drain, n, name, att, state, next)
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
func (d *deliverer) attempt(ctx context.Context, n *schema.Notification, name string, number int) (schema.Attempt, schema.DeliveryState, int64) {
	att := schema.Attempt{At: d.now().UnixMilli()}
	sender, err := d.sender(ctx, n.Tenant, n.Rule, name)
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
	answered := d.now().UnixMilli() + 1
	ce := channel.AsError(err)
	att.Status, att.Error = ce.Status, ce.Error()
	if ce.Permanent || number >= d.cfg.MaxAttempts {
		return att, schema.DeliveryGivenUp, 0
	}
	// Jitter keeps receivers recovering from an outage from being hit by
	// every sender at once.
	wait := d.policy.Wait(number)
	if ce.RetryAfter > 0 {
		wait = min(ce.RetryAfter, d.cfg.MaxRetryAfter)
		att.RetryAfter = wait.Milliseconds()
	}
	return att, schema.DeliveryFailed, answered + wait.Milliseconds()
}

// recordAttempt appends att to the channel's history, retrying the store
// until it takes it or ctx ends.
func (d *deliverer) recordAttempt(ctx context.Context, n schema.Notification, name string, att schema.Attempt, state schema.DeliveryState, next int64) (schema.Notification, error) {
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
	policy := d.policy
	policy.OnRetry = func(err error, _ time.Duration) {
		d.log.Warn("cannot record a delivery attempt; retrying", "id", n.ID, "channel", name, "err", err)
	}
	out := n
	err := backoff.Retry(ctx, policy, func(ctx context.Context) error {
		var err error
		out, err = d.notes.update(ctx, n.Tenant, n.ID, change)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("record delivery attempt: %w", err)
	}
	return out, nil
}
