package alerting

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/taskpulse/taskpulse/alerting/channel"
	"github.com/taskpulse/taskpulse/internal/backoff"
	"github.com/taskpulse/taskpulse/internal/store"
)

// Service evaluates alert rules, keeps alert state, and makes and
// delivers notifications. It joins three parts that share only the rules
// in force: the evaluator (rules to alert states and notifications), the
// deliverer (notifications to channels), and the HTTP API.
type Service struct {
	cfg       Config
	docs      store.DocumentStore
	log       *slog.Logger
	hasSeries bool
	hasLogs   bool
	// client carries the channels of the rules file, the operator's,
	// which the outbound policy does not bind.
	client *http.Client

	rules   *registry
	senders *senders
	eval    *evaluator
	deliver *deliverer
	api     *api
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
	log := deps.Logger.With("component", "alerting")
	s := &Service{
		cfg: cfg, docs: deps.Documents, log: log, hasSeries: deps.Series != nil, hasLogs: deps.Logs != nil,
		// Channels set their own per-attempt timeouts.
		client: &http.Client{},
		rules:  newRegistry(),
	}
	var eval *evaluator
	m, err := newMetrics(deps.Registerer, func() map[State]int { return eval.countByState() })
	if err != nil {
		return nil, err
	}
	s.senders = &senders{rules: s.rules, docs: deps.Documents, transport: policy.Transport(maxTimeout), timeout: cfg.Delivery.Timeout}
	notes := newNoteStore(deps.Documents, log, deps.Now)
	s.deliver = &deliverer{
		group: cfg.Group, cfg: cfg.Delivery, policy: backoff.Policy{Min: cfg.Delivery.RetryMin, Max: cfg.Delivery.RetryMax},
		bus: deps.Bus, notes: notes, sender: s.senders.sender, log: log, now: deps.Now, attempts: m.attempts,
	}
	eval = newEvaluator(&evaluator{
		cfg: &s.cfg, feed: deps.Bus, docs: deps.Documents, tasks: deps.Tasks, series: deps.Series, logs: deps.Logs,
		control: deps.Control, rules: s.rules, notify: s.deliver.enqueue, log: log, now: deps.Now, metrics: m,
	})
	s.eval = eval
	s.api = &api{
		cfg: &s.cfg, docs: deps.Documents, rules: s.rules, notes: notes, policy: policy,
		alerts: eval.alertsOf, forgetSender: s.senders.forget,
		hasSeries: s.hasSeries, hasLogs: s.hasLogs, log: log, now: deps.Now,
	}
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
		fs, err := loadRuleFile(s.cfg.RulesFile, &s.cfg, s.client, s.hasSeries, s.hasLogs)
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
	if err := s.rules.loadAPI(ctx, s.docs, s.log); err != nil {
		// The periodic refresh tries again; the file is what Reload is for.
		s.log.Warn("cannot read API rules now", "err", err)
	}
	return nil
}

// Ready tells whether the service follows task events: subscribed to
// them and seeded with the tasks the store held. A readiness check.
func (s *Service) Ready(context.Context) error {
	select {
	case <-s.eval.following:
		return nil
	default:
		return errors.New("not yet following task events")
	}
}

// Run evaluates rules and delivers notifications until ctx ends. It
// returns nil then, or an error if it could not start.
func (s *Service) Run(ctx context.Context) error {
	defer s.senders.close()
	if err := s.eval.load(ctx); err != nil {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.eval.run(gctx) })
	g.Go(func() error {
		// Consuming starts once the subscription is placed: a bus may
		// join them one at a time, and the subscription, not the
		// consumer, decides from which event on alerts are seen.
		select {
		case <-s.eval.subscribed:
		case <-gctx.Done():
			return nil
		}
		return s.deliver.run(gctx)
	})
	g.Go(func() error {
		every(gctx, s.cfg.RefreshInterval, func(ctx context.Context) {
			if err := s.rules.loadAPI(ctx, s.docs, s.log); err != nil {
				s.log.Warn("cannot refresh API rules", "err", err)
			}
			if err := s.eval.seedTasks(ctx); err != nil {
				s.log.Warn("cannot refresh running tasks", "err", err)
			}
		})
		return nil
	})
	return g.Wait()
}
