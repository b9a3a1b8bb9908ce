package ratelimit

import (
	"flag"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
)

// Config sets the limits. A rate of zero is no limit. A burst of zero is
// one second's worth of the rate (one minute's for auth failures).
//
// Ingest and queries are unlimited by default: in a small deployment one
// tenant is the whole load, there is no one to share fairly with, the bus
// already pushes back (503) when it cannot keep up, and any number picked
// without knowing the hardware would refuse a legitimate backfill or the
// project's own load generator (150k events/s from one tenant). Operators
// of shared deployments set them to what their store sustains. Failed
// authentications are limited by default: that limit costs clients with a
// right key nothing and stops a key guesser from one address at a trickle.
type Config struct {
	// IngestEventsPerSecond caps the events (progress, log records,
	// metric samples) one tenant may publish a second.
	IngestEventsPerSecond float64
	IngestEventsBurst     int
	// IngestBytesPerSecond caps the request body bytes, after any
	// Content-Encoding is decoded, one tenant may publish a second.
	IngestBytesPerSecond float64
	IngestBytesBurst     int
	// QueriesPerSecond caps one tenant's requests to the query, stream
	// and alerting routes.
	QueriesPerSecond float64
	QueriesBurst     int
	// AuthFailuresPerMinute caps the failed authentications of one remote
	// address (one IPv4 address, or one IPv6 /64, which one host usually
	// holds whole). Past it the address is refused before its key is
	// looked at, right or not.
	AuthFailuresPerMinute float64
	AuthFailuresBurst     int
	// MaxKeys caps the buckets each limit holds; past it, new keys share
	// one bucket. Zero is DefaultMaxKeys.
	MaxKeys int
}

// DefaultMaxKeys bounds each limit's table at a few MiB.
const DefaultMaxKeys = 65536

// DefaultConfig is what RegisterFlags defaults to.
func DefaultConfig() Config {
	return Config{AuthFailuresPerMinute: 10, AuthFailuresBurst: 20, MaxKeys: DefaultMaxKeys}
}

// RegisterFlags registers the limits on fs, with DefaultConfig's values as
// defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	d := DefaultConfig()
	fs.Float64Var(&c.IngestEventsPerSecond, "ingest-events-rate", d.IngestEventsPerSecond, "events one tenant may ingest a second (0: no limit)")
	fs.IntVar(&c.IngestEventsBurst, "ingest-events-burst", d.IngestEventsBurst, "events one tenant may ingest at once above its rate (0: one second's worth)")
	fs.Float64Var(&c.IngestBytesPerSecond, "ingest-bytes-rate", d.IngestBytesPerSecond, "request body bytes one tenant may ingest a second (0: no limit)")
	fs.IntVar(&c.IngestBytesBurst, "ingest-bytes-burst", d.IngestBytesBurst, "body bytes one tenant may ingest at once above its rate (0: one second's worth)")
	fs.Float64Var(&c.QueriesPerSecond, "query-rate", d.QueriesPerSecond, "query, stream and alerting requests one tenant may make a second (0: no limit)")
	fs.IntVar(&c.QueriesBurst, "query-burst", d.QueriesBurst, "requests one tenant may make at once above its query rate (0: one second's worth)")
	fs.Float64Var(&c.AuthFailuresPerMinute, "auth-failures-rate", d.AuthFailuresPerMinute, "failed authentications one address may make a minute before it is refused (0: no limit)")
	fs.IntVar(&c.AuthFailuresBurst, "auth-failures-burst", d.AuthFailuresBurst, "failed authentications one address may make at once (0: one minute's worth)")
	fs.IntVar(&c.MaxKeys, "ratelimit-max-keys", d.MaxKeys, "tenants or addresses each limit tracks; past it new ones share one bucket")
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	rates := []struct {
		name string
		v    float64
	}{
		{"ingest events rate", c.IngestEventsPerSecond},
		{"ingest bytes rate", c.IngestBytesPerSecond},
		{"query rate", c.QueriesPerSecond},
		{"auth failures rate", c.AuthFailuresPerMinute},
	}
	for _, r := range rates {
		if r.v < 0 || math.IsNaN(r.v) || math.IsInf(r.v, 0) {
			return fmt.Errorf("ratelimit: %s must be a non-negative number, not %v", r.name, r.v)
		}
	}
	bursts := []struct {
		name string
		v    int
	}{
		{"ingest events burst", c.IngestEventsBurst},
		{"ingest bytes burst", c.IngestBytesBurst},
		{"query burst", c.QueriesBurst},
		{"auth failures burst", c.AuthFailuresBurst},
		{"max keys", c.MaxKeys},
	}
	for _, b := range bursts {
		if b.v < 0 {
			return fmt.Errorf("ratelimit: %s must not be negative, not %d", b.name, b.v)
		}
	}
	return nil
}

// Deps are what Limits needs besides its Config.
type Deps struct {
	// Registerer takes the metrics; none: a private registry.
	Registerer prometheus.Registerer
	// Now is the clock; none: time.Now.
	Now func() time.Time
}

// Limits applies a Config. Its methods are safe for concurrent use, and a
// nil *Limits limits nothing.
type Limits struct {
	events, bytes, queries, auth *Keyed

	rejectedEvents, rejectedBytes, rejectedQueries, rejectedAuth prometheus.Counter
	authFailures                                                 prometheus.Counter
}

// Names of the limits, the limit label of the metrics.
const (
	limitIngestEvents = "ingest_events"
	limitIngestBytes  = "ingest_bytes"
	limitQueries      = "queries"
	limitAuthFailures = "auth_failures"
)

// New makes the limits of cfg and registers their metrics.
func New(cfg Config, deps Deps) (*Limits, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if deps.Registerer == nil {
		deps.Registerer = prometheus.NewRegistry()
	}
	keyed := func(rate float64, burst int, window time.Duration) *Keyed {
		if rate == 0 {
			return nil
		}
		if burst == 0 {
			burst = int(math.Ceil(rate))
		}
		return NewKeyed(rate/window.Seconds(), burst, cfg.MaxKeys, deps.Now)
	}
	l := &Limits{
		events:  keyed(cfg.IngestEventsPerSecond, cfg.IngestEventsBurst, time.Second),
		bytes:   keyed(cfg.IngestBytesPerSecond, cfg.IngestBytesBurst, time.Second),
		queries: keyed(cfg.QueriesPerSecond, cfg.QueriesBurst, time.Second),
		auth:    keyed(cfg.AuthFailuresPerMinute, cfg.AuthFailuresBurst, time.Minute),
	}
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "taskpulse_ratelimit_rejected_total",
		Help: "Requests refused with 429, by limit (ingest_events, ingest_bytes, queries, auth_failures).",
	}, []string{"limit"})
	failures := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "taskpulse_auth_failures_total",
		Help: "Requests refused for a missing or unknown API key.",
	})
	collectors := []prometheus.Collector{rejected, failures}
	for name, k := range map[string]*Keyed{
		limitIngestEvents: l.events, limitIngestBytes: l.bytes, limitQueries: l.queries, limitAuthFailures: l.auth,
	} {
		labels := prometheus.Labels{"limit": name}
		collectors = append(collectors,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name:        "taskpulse_ratelimit_keys",
				Help:        "Tenants or addresses with a bucket of their own, by limit.",
				ConstLabels: labels,
			}, func() float64 { return float64(k.Len()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "taskpulse_ratelimit_overflow_total",
				Help:        "Calls of new tenants or addresses charged to the shared bucket because the table was full (see --ratelimit-max-keys), by limit.",
				ConstLabels: labels,
			}, func() float64 { return float64(k.Overflowed()) }),
		)
	}
	for _, c := range collectors {
		if err := deps.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("register ratelimit metrics: %w", err)
		}
	}
	l.rejectedEvents = rejected.WithLabelValues(limitIngestEvents)
	l.rejectedBytes = rejected.WithLabelValues(limitIngestBytes)
	l.rejectedQueries = rejected.WithLabelValues(limitQueries)
	l.rejectedAuth = rejected.WithLabelValues(limitAuthFailures)
	l.authFailures = failures
	return l, nil
}

// AllowIngest takes a request of events and body bytes from tenant's
// ingest limits, both or neither, or says how long until it would fit.
func (l *Limits) AllowIngest(tenant string, events, bytes int) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	wait, ok := l.events.Allow(tenant, events)
	if !ok {
		l.rejectedEvents.Inc()
		return wait, false
	}
	if wait, ok = l.bytes.Allow(tenant, bytes); !ok {
		// The events were not published, so they are not counted.
		l.events.refund(tenant, events)
		l.rejectedBytes.Inc()
		return wait, false
	}
	return 0, true
}

// Queries limits the requests of each tenant. Mount it after
// auth.Middleware.
func (l *Limits) Queries() fiber.Handler {
	if l == nil || l.queries.unlimited() {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return func(c *fiber.Ctx) error {
		if wait, ok := l.queries.Allow(auth.Tenant(c), 1); !ok {
			l.rejectedQueries.Inc()
			return tooMany("the tenant is over its query rate; retry later", wait)
		}
		return c.Next()
	}
}

// AuthGuard is what auth.Middleware consults about failed
// authentications: nil when they are not limited.
func (l *Limits) AuthGuard() auth.Guard {
	if l == nil || l.auth.unlimited() {
		return nil
	}
	return authGuard{l}
}

type authGuard struct{ l *Limits }

func (g authGuard) Blocked(addr string) (time.Duration, bool) {
	wait, blocked := g.l.auth.Peek(addrKey(addr))
	if blocked {
		g.l.rejectedAuth.Inc()
	}
	return wait, blocked
}

func (g authGuard) Failed(addr string) {
	g.l.authFailures.Inc()
	g.l.auth.Allow(addrKey(addr), 1)
}

// addrKey is the key of a remote address: an IPv4 address, or the /64 of
// an IPv6 address, as one host is commonly given a whole /64 and could
// otherwise fail from a new address every time.
func addrKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// tooMany is the 429 answer to a request over a limit.
func tooMany(message string, wait time.Duration) *httpx.Error {
	return &httpx.Error{
		Status:     fiber.StatusTooManyRequests,
		Code:       httpx.CodeRateLimited,
		Message:    message,
		RetryAfter: retryAfterSeconds(wait),
	}
}

// retryAfterSeconds is wait in whole seconds, rounded up, at least one.
func retryAfterSeconds(wait time.Duration) int {
	return max(1, int((wait+time.Second-1)/time.Second))
}
