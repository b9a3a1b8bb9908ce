package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/gofiber/contrib/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskpulse/taskpulse/eta"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Subscriber is the part of the bus the stream needs: every record, from
// now on, independently of any consumer group.
type Subscriber interface {
	Subscribe(ctx context.Context, topics []string, h bus.Handler) error
}

// Snapshotter is the part of the store the stream needs for snapshots.
type Snapshotter interface {
	Tasks(ctx context.Context, f store.TaskFilter) ([]store.Task, error)
}

// Deps are what the stream talks to.
type Deps struct {
	Bus        Subscriber
	Store      Snapshotter
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Control holds the control requests pushed to workers and shown on
	// tasks; none: the stream knows of none.
	Control *control.Registry
	// ETA estimates the time left of the tasks it pushes; none: from the
	// client or the rate only.
	ETA *eta.Tracker
}

// Service is the WebSocket hub: Routes accepts connections, Run feeds them
// from the bus.
type Service struct {
	cfg     Config
	bus     Subscriber
	log     *slog.Logger
	metrics *metrics
	hub     *hub
	snaps   *snapshots
	// recent holds the notifications pushed lately; only the route of the
	// notifications subscription uses it.
	recent  *recentIDs
	control *control.Registry

	// live is closed once every topic's subscription is in place: a
	// snapshot taken earlier could miss an update published in between.
	live chan struct{}

	// ctx ends when Run returns, and with it every snapshot query.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	clients map[*client]struct{}
	// pingSlot is the slot (see pingSlots) of the next connection.
	pingSlot uint32
	closing  bool
	// conns counts connections from register to unregister, so Run can
	// wait for them to close.
	conns sync.WaitGroup
}

// New makes the hub; Routes mounts it and Run feeds it.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Bus == nil || deps.Store == nil {
		panic("BUG: stream.New without a bus or a store")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Registerer == nil {
		deps.Registerer = prometheus.NewRegistry()
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := deps.Logger.With("component", "stream")
	s := &Service{
		cfg:     cfg,
		bus:     deps.Bus,
		log:     log,
		metrics: m,
		hub:     newHub(),
		snaps:   newSnapshots(ctx, deps.Store, log, cfg),
		recent:  newRecentIDs(recentNotifications),
		live:    make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
		clients: make(map[*client]struct{}),
		control: deps.Control,
	}
	s.hub.render = renderer{eta: deps.ETA, control: deps.Control}
	s.snaps.render = s.hub.render
	if s.control != nil {
		s.control.Listen(s.routeControl)
	}
	return s, nil
}

// topics are what the stream pushes. Each has its own subscription, so
// that a burst of one (logs, above all) never holds up the others; the bus
// keeps order per key within a topic, which is all the protocol promises.
var topics = []string{schema.TopicProgress, schema.TopicLogs, schema.TopicNotifications}

// Ready tells whether every subscription is in place, so connections are
// taken (see live). A readiness check.
func (s *Service) Ready(context.Context) error {
	select {
	case <-s.live:
		return nil
	default:
		return errors.New("not yet following the bus")
	}
}

// Run subscribes to progress, logs and notifications and fans them out
// until ctx ends or a subscription fails; either way it then closes every
// connection (1001, going away) and returns once they are closed. Clients
// reconnect, to this instance or another, and start again from snapshots,
// so a bus failure never leaves them with a silent gap.
func (s *Service) Run(ctx context.Context) error {
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	// Connections wait until every subscription is in place (see live).
	var pending atomic.Int32
	pending.Store(int32(len(topics)))
	for _, topic := range topics {
		wg.Go(func() {
			var placed sync.Once
			ctx := bus.OnSubscribed(subCtx, func() {
				placed.Do(func() {
					if pending.Add(-1) == 0 {
						close(s.live)
					}
				})
			})
			if err := s.bus.Subscribe(ctx, []string{topic}, s.route); err != nil {
				once.Do(func() { first = fmt.Errorf("stream: subscribe to %s: %w", topic, err) })
			}
			// A stream missing one topic would fail its clients silently,
			// so one subscription ending ends them all.
			cancel()
		})
	}
	wg.Go(func() { s.pingConnections(subCtx) })
	wg.Wait()
	s.shutdown()
	if ctx.Err() == nil {
		return first
	}
	return nil
}

// route fans one batch of any topic out; each topic's subscription calls
// it from its own goroutine. It never fails: a record that cannot be
// decoded reaches nobody and is counted, and the stream keeps no offsets.
func (s *Service) route(_ context.Context, batch []bus.Record) error {
	for i := range batch {
		rec := &batch[i]
		if tenant, ok := rec.Headers[schema.HeaderTenant]; ok && !s.hub.follows(tenant, rec.Topic, rec.Key) {
			continue // nobody of this tenant wants it: skip the decoding
		}
		var err error
		switch rec.Topic {
		case schema.TopicProgress:
			var p schema.Progress
			if p, err = schema.DecodeProgress(rec.Value); err == nil {
				err = s.hub.publish(p)
			}
		case schema.TopicLogs:
			var l schema.Log
			if l, err = schema.DecodeLog(rec.Value); err == nil {
				s.hub.publishLog(l)
			}
		case schema.TopicNotifications:
			var n schema.Notification
			if n, err = schema.DecodeNotification(rec.Value); err == nil {
				s.routeNotification(n)
			}
		default:
			continue
		}
		if err != nil {
			s.metrics.drop(reasonUndecodable, 1)
			s.log.Warn("skipping record", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
		}
	}
	return nil
}

func (s *Service) register(c *client) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	c.pingSlot = s.pingSlot
	s.pingSlot = (s.pingSlot + 1) % pingSlots
	s.clients[c] = struct{}{}
	s.conns.Add(1)
	s.metrics.connections.Inc()
	return true
}

func (s *Service) unregister(c *client) {
	c.dropSubscriptions()
	s.mu.Lock()
	delete(s.clients, c)
	s.mu.Unlock()
	s.metrics.connections.Dec()
	s.conns.Done()
}

// shutdown refuses new connections, closes the open ones and waits for
// them.
func (s *Service) shutdown() {
	s.mu.Lock()
	s.closing = true
	clients := make([]*client, 0, len(s.clients))
	for c := range s.clients {
		clients = append(clients, c)
	}
	s.mu.Unlock()
	s.cancel()
	for _, c := range clients {
		c.end(websocket.CloseGoingAway, "server shutting down")
	}
	s.conns.Wait()
}
