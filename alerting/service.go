package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/taskpulse/taskpulse/alerting/channel"
	"github.com/taskpulse/taskpulse/internal/backoff"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Service evaluates alert rules, keeps alert state, and makes and
// delivers notifications.
type Service struct {
	cfg     Config
	bus     Bus
	docs    store.DocumentStore
	tasks   TaskReader
	series  SeriesReader
	logs    LogReader
	log     *slog.Logger
	now     func() time.Time
	client  *http.Client
	metrics *metrics

	// policy guards what tenants' channels reach, tenantTransport
	// carries them through it, and senders keeps their senders.
	policy          *channel.Policy
	tenantTransport channel.Transport
	senders         senderCache

	rules   *registry
	tracker *taskTracker

	// alertsMu guards alerts and serialises evaluations, so that an event
	// and the ticker never move the same alert at once.
	alertsMu sync.Mutex
	alerts   map[alertKey]*Alert
	// held is, per alert, the transition a silence last held back, so
	// that it is logged once rather than at every evaluation.
	held map[alertKey]transition
	// following is closed once task events are followed (see Ready).
	following chan struct{}

	// notesMu serialises this process's updates of notifications.
	notesMu sync.Mutex
	// rulesMu serialises API changes of rules within this process.
	rulesMu sync.Mutex
}

// New makes the alerting service and loads the rules file, refusing a bad
// one. Run starts it.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Bus == nil || deps.Documents == nil || deps.Tasks == nil {
		panic("BUG: alerting.New without a bus, a document store or a task reader")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Registerer == nil {
		deps.Registerer = prometheus.NewRegistry()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	policy, err := channel.NewPolicy(cfg.ChannelAllow, cfg.ChannelDeny, cfg.Resolve)
	if err != nil {
		panic("BUG: a validated channel policy does not parse: " + err.Error())
	}
	s := &Service{
		cfg: cfg, bus: deps.Bus, docs: deps.Documents, tasks: deps.Tasks, series: deps.Series, logs: deps.Logs,
		log: deps.Logger.With("component", "alerting"), now: deps.Now,
		// Channels set their own per-attempt timeouts.
		client:    &http.Client{},
		rules:     newRegistry(),
		tracker:   newTaskTracker(),
		alerts:    map[alertKey]*Alert{},
		held:      map[alertKey]transition{},
		following: make(chan struct{}),

		policy:          policy,
		tenantTransport: tenantTransport(policy),
	}
	m, err := newMetrics(deps.Registerer, s)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the rules file again. A file with any problem is refused
// as a whole (the error names each rule and field), and the rules already
// loaded keep running. The API rules are read from the store again too.
func (s *Service) Reload() error {
	if s.cfg.RulesFile != "" {
		fs, err := loadRuleFile(s.cfg.RulesFile, &s.cfg, s.client, s.series != nil, s.logs != nil)
		if err != nil {
			s.log.Error("rules file refused; the rules loaded before stay in force", "err", err)
			return err
		}
		if err := s.rules.setFile(fs); err != nil {
			return err
		}
		s.log.Info("rules file loaded", "path", s.cfg.RulesFile, "rules", len(fs.rules), "channels", len(fs.channels))
	} else if err := s.rules.setFile(&fileSet{}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.refreshAPIRules(ctx); err != nil {
		// The periodic refresh tries again; the file is what Reload is for.
		s.log.Warn("cannot read API rules now", "err", err)
	}
	return nil
}

// Ready tells whether the service follows task events: subscribed to
// them and seeded with the tasks the store held. A readiness check.
func (s *Service) Ready(context.Context) error {
	select {
	case <-s.following:
		return nil
	default:
		return errors.New("not yet following task events")
	}
}

// Run evaluates rules and delivers notifications until ctx ends. It
// returns nil then, or an error if it could not start.
func (s *Service) Run(ctx context.Context) error {
	defer s.tenantTransport.Client.CloseIdleConnections()
	if err := s.retry(ctx, "load alert states", s.loadAlerts); err != nil {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	subscribed := make(chan struct{})
	g.Go(func() error { return s.followTasks(gctx, subscribed) })
	g.Go(func() error {
		// Seed only once the subscription is in place, so no event falls
		// between what the store held and what the bus tells.
		select {
		case <-subscribed:
		case <-gctx.Done():
			return nil
		}
		if err := s.retry(gctx, "read running tasks", s.seedTasks); err != nil {
			return nil
		}
		close(s.following)
		s.every(gctx, s.cfg.TaskCheckInterval, s.checkTasks)
		return nil
	})
	g.Go(func() error { s.runQueryRules(gctx); return nil })
	g.Go(func() error { return s.deliver(gctx) })
	g.Go(func() error {
		s.every(gctx, s.cfg.RefreshInterval, func(ctx context.Context) {
			if err := s.refreshAPIRules(ctx); err != nil {
				s.log.Warn("cannot refresh API rules", "err", err)
			}
			if err := s.seedTasks(ctx); err != nil {
				s.log.Warn("cannot refresh running tasks", "err", err)
			}
		})
		return nil
	})
	return g.Wait()
}

// every calls f each interval until ctx ends.
func (s *Service) every(ctx context.Context, interval time.Duration, f func(context.Context)) {
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

// retry calls f until it succeeds, or returns ctx's error.
func (s *Service) retry(ctx context.Context, what string, f func(context.Context) error) error {
	wait := s.cfg.Delivery.RetryMin
	for {
		err := f(ctx)
		if err == nil {
			return nil
		}
		s.log.Error(what+" failed; retrying", "err", err, "backoff", wait)
		if !backoff.Sleep(ctx, backoff.Jitter(wait)) {
			return ctx.Err()
		}
		wait = min(2*wait, s.cfg.Delivery.RetryMax)
	}
}

// followTasks subscribes to progress events, closing subscribed once the
// subscription is in place, and restarts it after a failure (reading the
// store again, for what the gap hid).
func (s *Service) followTasks(ctx context.Context, subscribed chan struct{}) error {
	var once sync.Once
	placed := bus.OnSubscribed(ctx, func() { once.Do(func() { close(subscribed) }) })
	wait := s.cfg.Delivery.RetryMin
	for {
		handler := func(ctx context.Context, batch []bus.Record) error {
			s.handleProgress(ctx, batch)
			return nil
		}
		err := s.bus.Subscribe(placed, []string{schema.TopicProgress}, handler)
		if ctx.Err() != nil {
			return nil
		}
		s.log.Error("progress subscription stopped; restarting", "err", err, "backoff", wait)
		if !backoff.Sleep(ctx, backoff.Jitter(wait)) {
			return nil
		}
		wait = min(2*wait, s.cfg.Delivery.RetryMax)
		if err := s.seedTasks(ctx); err != nil {
			s.log.Warn("cannot read running tasks", "err", err)
		}
	}
}

func (s *Service) handleProgress(ctx context.Context, batch []bus.Record) {
	for _, rec := range batch {
		p, err := schema.DecodeProgress(rec.Value)
		if err != nil {
			continue // the writer sends it to the dead-letter topic
		}
		if ts := s.tracker.observe(&p); ts != nil {
			s.evalTaskEvent(ctx, ts)
		}
	}
}

// seedTasks reads, for every tenant with task rules, its running tasks and
// those that finished within TaskRetention.
func (s *Service) seedTasks(ctx context.Context) error {
	tenants := map[string]bool{}
	for _, r := range s.rules.all() {
		if r.Kind.task() {
			tenants[r.Tenant] = true
		}
	}
	since := s.now().Add(-s.cfg.TaskRetention).UnixMilli()
	var errs []error
	for tenant := range tenants {
		errs = append(errs,
			s.seed(ctx, store.TaskFilter{Tenant: tenant, Statuses: []schema.Status{schema.StatusRunning, schema.StatusPaused, schema.StatusPending}}),
			s.seed(ctx, store.TaskFilter{Tenant: tenant, UpdatedSince: since}))
	}
	return errors.Join(errs...)
}

const seedPage = 1000

func (s *Service) seed(ctx context.Context, f store.TaskFilter) error {
	f.Limit = seedPage
	for {
		tasks, err := s.tasks.Tasks(ctx, f)
		if err != nil {
			return fmt.Errorf("seed tasks of %s: %w", f.Tenant, err)
		}
		for i := range tasks {
			tasks[i].Tenant = f.Tenant
			s.tracker.seed(&tasks[i])
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
func (s *Service) runQueryRules(ctx context.Context) {
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
		for _, r := range s.rules.all() {
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
				s.runQueryRule(rctx, r)
			}()
		}
		select {
		case <-ctx.Done():
			return
		case <-s.rules.changed:
		}
	}
}
