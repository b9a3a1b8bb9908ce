package alerting

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/taskpulse/taskpulse/internal/backoff"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// progressFeed is the part of the bus the evaluator uses: every process
// follows every progress event.
type progressFeed interface {
	Subscribe(ctx context.Context, topics []string, h bus.Handler) error
}

// notifyFunc stores a notification and hands it on for delivery. A
// transition counts as told once it returns nil.
type notifyFunc func(ctx context.Context, n *schema.Notification) error

// evaluator turns what rules observe into alert states, and the
// transitions worth telling into notifications, which it hands to
// notify.
type evaluator struct {
	cfg     *Config
	feed    progressFeed
	docs    store.DocumentStore // alert states; silences, read
	tasks   TaskReader
	series  SeriesReader
	logs    LogReader
	control *control.Registry
	rules   *registry
	notify  notifyFunc
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics

	tracker *taskTracker
	// events carries what progress events tell of tasks to the task
	// loop, which evaluates every task rule: one goroutine, so an event
	// and the ticker never move the same alert at once.
	events chan *taskState
	// subscribed is closed once the progress subscription is in place,
	// following once the running tasks are read too (see Ready).
	subscribed, following chan struct{}

	// mu guards alerts and held, and is never held across a store or bus
	// call (see apply).
	mu     sync.Mutex
	alerts map[alertKey]*Alert
	// held is, per alert, the transition a silence last held back, so
	// that it is logged once rather than at every evaluation.
	held map[alertKey]transition
}

// newEvaluator readies e, whose fields above tracker are set.
func newEvaluator(e *evaluator) *evaluator {
	e.tracker = newTaskTracker()
	e.events = make(chan *taskState)
	e.subscribed, e.following = make(chan struct{}), make(chan struct{})
	e.alerts = map[alertKey]*Alert{}
	e.held = map[alertKey]transition{}
	return e
}

// load reads the stored alerts, trying until ctx ends.
func (e *evaluator) load(ctx context.Context) error {
	return e.retry(ctx, "load alert states", e.loadAlerts)
}

// run follows task events and evaluates every rule until ctx ends.
func (e *evaluator) run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { e.followTasks(gctx); return nil })
	g.Go(func() error {
		// Seed only once the subscription is in place, so no event falls
		// between what the store held and what the bus tells.
		select {
		case <-e.subscribed:
		case <-gctx.Done():
			return nil
		}
		if err := e.retry(gctx, "read running tasks", e.seedTasks); err != nil {
			return nil
		}
		close(e.following)
		return nil
	})
	g.Go(func() error { e.runTaskRules(gctx); return nil })
	g.Go(func() error { e.runQueryRules(gctx); return nil })
	return g.Wait()
}

// retry calls f until it succeeds, or returns its last error once ctx
// ends.
func (e *evaluator) retry(ctx context.Context, what string, f func(context.Context) error) error {
	return backoff.Retry(ctx, backoff.Policy{Min: e.cfg.Delivery.RetryMin, Max: e.cfg.Delivery.RetryMax,
		OnRetry: func(err error, wait time.Duration) {
			e.log.Error(what+" failed; retrying", "err", err, "backoff", wait)
		}}, f)
}

// errSubscribeReturned is a Subscribe that ended while its context had
// not: the evaluator subscribes again, as after a failure.
var errSubscribeReturned = errors.New("subscribe returned before the evaluator stopped")

// followTasks subscribes to progress events, closing e.subscribed once
// the subscription is in place, and restarts it after a failure (reading
// the store again, for what the gap hid).
func (e *evaluator) followTasks(ctx context.Context) {
	var once sync.Once
	placed := bus.OnSubscribed(ctx, func() { once.Do(func() { close(e.subscribed) }) })
	handler := func(ctx context.Context, batch []bus.Record) error {
		e.handleProgress(ctx, batch)
		return nil
	}
	policy := backoff.Policy{Min: e.cfg.Delivery.RetryMin, Max: e.cfg.Delivery.RetryMax,
		OnRetry: func(err error, wait time.Duration) {
			e.log.Error("progress subscription stopped; restarting", "err", err, "backoff", wait)
		}}
	restart := false
	_ = backoff.Retry(ctx, policy, func(ctx context.Context) error {
		if restart {
			if err := e.seedTasks(ctx); err != nil {
				e.log.Warn("cannot read running tasks", "err", err)
			}
		}
		restart = true
		err := e.feed.Subscribe(placed, []string{schema.TopicProgress}, handler)
		if ctx.Err() != nil {
			return nil
		}
		return cmp.Or(err, errSubscribeReturned)
	})
}

// handleProgress hands what each event tells of its task to the task
// loop.
func (e *evaluator) handleProgress(ctx context.Context, batch []bus.Record) {
	for _, rec := range batch {
		p, err := schema.DecodeProgress(rec.Value)
		if err != nil {
			continue // the writer sends it to the dead-letter topic
		}
		ts := e.tracker.observe(&p)
		if ts == nil {
			continue
		}
		select {
		case e.events <- ts:
		case <-ctx.Done():
			return
		}
	}
}

// runTaskRules evaluates the task rules of each task an event changed,
// at once, so failures are told within moments; and, once the running
// tasks are known, every task rule over every task on a ticker.
func (e *evaluator) runTaskRules(ctx context.Context) {
	var tick <-chan time.Time
	seeded := e.following
	for {
		select {
		case <-ctx.Done():
			return
		case ts := <-e.events:
			e.evalTaskEvent(ctx, ts)
		case <-seeded:
			t := time.NewTicker(e.cfg.TaskCheckInterval)
			defer t.Stop()
			tick, seeded = t.C, nil
		case <-tick:
			e.checkTasks(ctx)
		}
	}
}

// seedTasks reads, for every tenant with task rules, its running tasks and
// those that finished within TaskRetention.
func (e *evaluator) seedTasks(ctx context.Context) error {
	tenants := map[string]bool{}
	for _, r := range e.rules.all() {
		if r.Kind.task() {
			tenants[r.Tenant] = true
		}
	}
	since := e.now().Add(-e.cfg.TaskRetention).UnixMilli()
	var errs []error
	for tenant := range tenants {
		errs = append(errs,
			e.seed(ctx, store.TaskFilter{Tenant: tenant, Statuses: []schema.Status{schema.StatusRunning, schema.StatusPaused, schema.StatusPending}}),
			e.seed(ctx, store.TaskFilter{Tenant: tenant, UpdatedSince: since}))
	}
	return errors.Join(errs...)
}

const seedPage = 1000

func (e *evaluator) seed(ctx context.Context, f store.TaskFilter) error {
	f.Limit = seedPage
	for {
		tasks, err := e.tasks.Tasks(ctx, f)
		if err != nil {
			return fmt.Errorf("seed tasks of %s: %w", f.Tenant, err)
		}
		for i := range tasks {
			tasks[i].Tenant = f.Tenant
			e.tracker.seed(&tasks[i])
		}
		if len(tasks) < f.Limit {
			return nil
		}
		last := tasks[len(tasks)-1]
		f.After = &store.TaskCursor{UpdatedAt: last.UpdatedAt, TaskID: last.TaskID}
	}
}

// runQueryRules runs one evaluation loop per query rule, restarting the
// loops of rules that changed whenever the rules do.
func (e *evaluator) runQueryRules(ctx context.Context) {
	type runner struct {
		rule   *compiledRule
		cancel context.CancelFunc
		done   chan struct{}
	}
	running := map[ruleKey]*runner{}
	stop := func(k ruleKey) {
		r := running[k]
		r.cancel()
		<-r.done
		delete(running, k)
	}
	defer func() {
		for k := range running {
			stop(k)
		}
	}()
	for {
		want := map[ruleKey]*compiledRule{}
		for _, r := range e.rules.all() {
			if !r.Kind.task() {
				want[ruleKey{r.Tenant, r.ID}] = r
			}
		}
		for k, r := range running {
			if w := want[k]; w != r.rule {
				stop(k)
			}
		}
		for k, r := range want {
			if running[k] != nil {
				continue
			}
			rctx, cancel := context.WithCancel(ctx)
			run := &runner{rule: r, cancel: cancel, done: make(chan struct{})}
			running[k] = run
			go func() {
				defer close(run.done)
				e.runQueryRule(rctx, r)
			}()
		}
		select {
		case <-ctx.Done():
			return
		case <-e.rules.changed:
		}
	}
}

// every calls f each interval until ctx ends.
func every(ctx context.Context, interval time.Duration, f func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}
