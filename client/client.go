package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Config configures a Client. Only URL is required.
type Config struct {
	// URL is the server's base URL, such as http://127.0.0.1:8080.
	URL string
	// APIKey is sent as a bearer token when set.
	APIKey string
	// MaxBatch is the most events one request carries; 500 when 0. Keep
	// it below the tenant's ingest burst, or a batch never fits.
	MaxBatch int
	// FlushInterval is the longest an event waits to be sent; 200ms when 0.
	FlushInterval time.Duration
	// MaxQueue is the most events that wait; 100,000 when 0.
	MaxQueue int
	// Senders is how many requests may be in flight at once; 4 when 0.
	// Events are ordered by their timestamps and sequence numbers, not by
	// the order requests arrive in, so parallel requests keep the order.
	Senders int
	// HTTPClient sends the requests; one with a 10s timeout when nil.
	HTTPClient *http.Client
	// BackoffBase and BackoffMax bound the wait before a retry: attempt n
	// waits a random time below min(BackoffMax, BackoffBase*2^n). 100ms
	// and 30s when 0.
	BackoffBase, BackoffMax time.Duration
	// Logger tells of refused and abandoned events; none: discarded.
	Logger *slog.Logger
}

// Client queues reports and sends them from one goroutine. It is safe
// for concurrent use. Close it to send what is queued.
type Client struct {
	cfg    Config
	http   *http.Client
	log    *slog.Logger
	queue  *queue
	header http.Header
	// tasks are the tasks running now, by id, so that a control answer
	// reaches them.
	tasks sync.Map

	wake      chan struct{}
	ctx       context.Context // cancelled by Close: in-flight sends give up
	cancel    context.CancelFunc
	senders   sync.WaitGroup
	closeOnce sync.Once
}

// New starts a client.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" {
		return nil, errors.New("client: URL is required")
	}
	if cfg.MaxBatch < 0 || cfg.MaxQueue < 0 || cfg.Senders < 0 || cfg.FlushInterval < 0 || cfg.BackoffBase < 0 || cfg.BackoffMax < 0 {
		return nil, errors.New("client: sizes and durations cannot be negative")
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	cfg.MaxBatch = cmpOr(cfg.MaxBatch, 500)
	cfg.MaxQueue = cmpOr(cfg.MaxQueue, 100_000)
	cfg.Senders = cmpOr(cfg.Senders, 4)
	cfg.FlushInterval = cmpOr(cfg.FlushInterval, 200*time.Millisecond)
	cfg.BackoffBase = cmpOr(cfg.BackoffBase, 100*time.Millisecond)
	cfg.BackoffMax = cmpOr(cfg.BackoffMax, 30*time.Second)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		cfg:    cfg,
		http:   cfg.HTTPClient,
		log:    cfg.Logger.With("component", "taskpulse-client"),
		queue:  newQueue(cfg.MaxQueue),
		header: http.Header{"Content-Type": {"application/json"}},
		wake:   make(chan struct{}, 1),
	}
	if cfg.APIKey != "" {
		c.header.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for range cfg.Senders {
		c.senders.Add(1)
		go c.run()
	}
	return c, nil
}

func cmpOr[T comparable](v, fallback T) T {
	var zero T
	if v == zero {
		return fallback
	}
	return v
}

// Progress queues a progress event.
func (c *Client) Progress(p Progress) {
	stampEvent(&p.EventID, &p.Timestamp)
	c.enqueue(signalProgress, p, p.TaskID, final(p.Status))
}

// Log queues a log line.
func (c *Client) Log(l Log) {
	stampEvent(&l.EventID, &l.Timestamp)
	c.enqueue(signalLogs, l, l.TaskID, false)
}

// Metric queues a metric sample.
func (c *Client) Metric(m Metric) {
	stampEvent(&m.EventID, &m.Timestamp)
	c.enqueue(signalMetrics, m, m.TaskID, false)
}

// Stats says what became of the events queued so far.
func (c *Client) Stats() Stats { return c.queue.snapshot() }

// Flush waits until every event queued before the call is sent or
// refused, or ctx ends.
func (c *Client) Flush(ctx context.Context) error {
	target, _, _ := c.queue.progress()
	for {
		_, settled, next := c.queue.progress()
		if settled >= target {
			return nil
		}
		c.signal()
		select {
		case <-next:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close sends what is queued, waiting until ctx ends at most, then stops
// the client. What is still unsent then is counted in Stats.Unsent and
// makes the error. Reports made after Close are not sent.
func (c *Client) Close(ctx context.Context) error {
	var err error
	c.closeOnce.Do(func() {
		flushErr := c.Flush(ctx)
		c.cancel()
		c.senders.Wait()
		c.queue.giveUp()
		if lost := c.queue.snapshot().Unsent; lost > 0 {
			c.log.Error("closed with events unsent", "events", lost)
			err = fmt.Errorf("client: closed with %d events unsent: %w", lost, flushErr)
		}
	})
	return err
}

func (c *Client) enqueue(s signal, event any, taskID string, final bool) {
	body, err := json.Marshal(event)
	if err != nil {
		c.log.Error("cannot encode an event", "err", err)
		c.queue.refuse()
		return
	}
	taken, waiting := c.queue.put(s, entry{json: body, taskID: taskID}, final)
	switch {
	case !taken:
		if n := c.queue.snapshot().Dropped; n&(n-1) == 0 { // 1, 2, 4...: visible, not flooding
			c.log.Warn("queue full: events dropped", "dropped", n)
		}
	case final || waiting >= c.cfg.MaxBatch:
		c.signal()
	}
}

// signal wakes the sender without blocking.
func (c *Client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// stampEvent fills in an event's id and time when the caller left them out.
func stampEvent(id *string, ts *int64) {
	if *id == "" {
		*id = uuid.Must(uuid.NewV7()).String()
	}
	if *ts == 0 {
		*ts = time.Now().UnixMilli()
	}
}
