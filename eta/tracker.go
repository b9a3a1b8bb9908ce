package eta

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/taskpulse/taskpulse/internal/backoff"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Feed is the part of the bus a Tracker follows: every progress event.
type Feed interface {
	Subscribe(ctx context.Context, topics []string, h bus.Handler) error
}

// History is the part of the store a Tracker reads a tenant's completed
// tasks from.
type History interface {
	Tasks(ctx context.Context, f store.TaskFilter) ([]store.Task, error)
	TaskEvents(ctx context.Context, tenant, taskID string, f store.EventFilter) ([]schema.Progress, error)
}

// Tracker keeps a Model up to date for a service that renders tasks: Run
// follows the progress events, and the first Estimate for a tenant has its
// history read from the store, once the subscription is in place so that
// no completion falls between the two.
type Tracker struct {
	model *Model
	feed  Feed
	store History
	log   *slog.Logger

	// seeds carries tenants whose history is to be read, each once
	// (seeded), to Run.
	seeds      chan string
	seeded     sync.Map
	subscribed chan struct{}
}

// NewTracker returns a Tracker of a new Model with cfg.
func NewTracker(cfg Config, feed Feed, history History, log *slog.Logger) *Tracker {
	return &Tracker{
		model: New(cfg), feed: feed, store: history, log: log,
		seeds:      make(chan string, seedQueue),
		subscribed: make(chan struct{}),
	}
}

const (
	// seedQueue bounds the tenants waiting for their history; a tenant
	// that finds it full is asked for again at its next estimate.
	seedQueue = 64
	// seedScan is how many of a tenant's newest completed tasks tell
	// which task types to read the history of.
	seedScan = 1000
	// seedEvents caps the events read of one completed task; a longer
	// timeline is skipped.
	seedEvents = 1000
)

// Estimate is Model.Estimate, which also asks Run to read the tenant's
// history the first time the tenant is seen. A nil Tracker estimates from
// the client's eta or the rate only.
func (t *Tracker) Estimate(task Task, now int64) Estimate {
	if t == nil {
		return (*Model)(nil).Estimate(task, now)
	}
	t.want(task.Tenant)
	return t.model.Estimate(task, now)
}

// Run follows the progress events and reads the histories asked for until
// ctx ends.
func (t *Tracker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { t.follow(ctx) })
	wg.Go(func() { t.seedAll(ctx) })
	wg.Wait()
	return nil
}

// retryPolicy spaces restarts of the progress subscription.
var retryPolicy = backoff.Policy{Min: time.Second, Max: time.Minute, ResetAfter: time.Minute}

// errSubscriptionEnded is a Subscribe that returned while its context had
// not ended: the tracker subscribes again, as after a failure.
var errSubscriptionEnded = errors.New("progress subscription ended")

// follow shows every progress event to the model, subscribing again after
// a failure, and closes t.subscribed once it is in place.
func (t *Tracker) follow(ctx context.Context) {
	var once sync.Once
	placed := bus.OnSubscribed(ctx, func() { once.Do(func() { close(t.subscribed) }) })
	observe := func(_ context.Context, batch []bus.Record) error {
		for _, rec := range batch {
			if p, err := schema.DecodeProgress(rec.Value); err == nil { // the writer dead-letters the rest
				t.model.Observe(&p)
			}
		}
		return nil
	}
	policy := retryPolicy
	policy.OnRetry = func(err error, wait time.Duration) {
		t.log.Error("progress subscription stopped; restarting", "err", err, "backoff", wait)
	}
	restart := false
	_ = backoff.Retry(ctx, policy, func(ctx context.Context) error {
		if restart {
			// Tasks may have completed unseen: read the histories again,
			// at each tenant's next estimate.
			t.seeded.Clear()
		}
		restart = true
		err := t.feed.Subscribe(placed, []string{schema.TopicProgress}, observe)
		if ctx.Err() != nil {
			return nil
		}
		return cmp.Or(err, errSubscriptionEnded)
	})
}

// want asks Run to read tenant's history, the first time only.
func (t *Tracker) want(tenant string) {
	if _, asked := t.seeded.LoadOrStore(tenant, true); asked {
		return
	}
	select {
	case t.seeds <- tenant:
	default:
		t.seeded.Delete(tenant)
	}
}

// seedAll reads the history of each tenant asked for, once the
// subscription is in place. A tenant whose read fails is asked for again
// at its next estimate.
func (t *Tracker) seedAll(ctx context.Context) {
	select {
	case <-t.subscribed:
	case <-ctx.Done():
		return
	}
	for {
		select {
		case tenant := <-t.seeds:
			if err := t.seed(ctx, tenant); err != nil && ctx.Err() == nil {
				t.log.Warn("cannot read the ETA history", "tenant", tenant, "err", err)
				t.seeded.Delete(tenant)
			}
		case <-ctx.Done():
			return
		}
	}
}

// seed reads the newest Window completed tasks of each type found among
// the tenant's newest seedScan, with their timelines.
func (t *Tracker) seed(ctx context.Context, tenant string) error {
	completed := store.TaskFilter{Tenant: tenant, Statuses: []schema.Status{schema.StatusCompleted}, Limit: seedScan}
	recent, err := t.store.Tasks(ctx, completed)
	if err != nil {
		return err
	}
	types := map[string]bool{}
	for _, task := range recent {
		if task.TaskType != "" {
			types[task.TaskType] = true
		}
	}
	completed.Limit = Window
	for typ := range types {
		completed.TaskType = typ
		tasks, err := t.store.Tasks(ctx, completed)
		if err != nil {
			return err
		}
		for _, task := range tasks { // newest first, as Seed wants them
			events, err := t.store.TaskEvents(ctx, tenant, task.TaskID, store.EventFilter{Limit: seedEvents})
			if err != nil {
				return err
			}
			t.model.Seed(tenant, events)
		}
	}
	return nil
}

// EstimateEvent is the estimate of a task whose latest event is p, for a
// reader that has the event only (the stream): the start and the latest
// progress come from the run the model follows, when it does.
func (t *Tracker) EstimateEvent(p *schema.Progress, now int64) Estimate {
	var m *Model
	if t != nil {
		m = t.model
	}
	return t.Estimate(m.taskOfEvent(p), now)
}
