package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/taskpulse/taskpulse/client"
	"github.com/taskpulse/taskpulse/internal/app"
	"github.com/taskpulse/taskpulse/internal/config"
)

// loadgen sends progress events through the Go client as fast as the
// server takes them and prints the ingest rate and ack latencies for each
// batch size, then the latency from sending an event to receiving it over
// WebSocket. Without --target it starts an all-in-one TaskPulse of its
// own on a temporary directory. Going through the client measures what
// applications get: UUIDv7 event ids, one JSON array per batch, parallel
// senders.
func loadgen(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	target := fs.String("target", "", "base URL of a running TaskPulse (default: start one in-process on a temporary directory)")
	apiKey := fs.String("api-key", "", "API key to send")
	duration := fs.Duration("duration", 5*time.Second, "how long each batch size runs")
	batches := fs.String("batches", "1,100,500", "comma list of events per request")
	workers := fs.Int("concurrency", 8, "concurrent requests")
	tasks := fs.Int("tasks", 1000, "distinct task ids")
	wsEvents := fs.Int("ws-events", 2000, "events timed from send to WebSocket (0 skips it)")
	wsRate := fs.Int("ws-rate", 500, "events per second while timing WebSocket delivery")
	if err := config.Parse(fs, args, ""); err != nil {
		return err
	}
	sizes, err := parseInts(*batches)
	if err != nil {
		return fmt.Errorf("--batches: %w", err)
	}
	if *workers <= 0 || *tasks <= 0 {
		return errors.New("--concurrency and --tasks must be positive")
	}
	base := strings.TrimRight(*target, "/")
	if base == "" {
		var stop func()
		base, stop, err = startLocal(ctx)
		if err != nil {
			return err
		}
		defer stop()
	}
	lg := &loadGen{base: base, key: *apiKey, tasks: *tasks}
	fmt.Printf("target %s, %d workers, json bodies, %s per batch size\n", base, *workers, *duration)
	fmt.Printf("%-8s %12s %10s %10s %10s %8s\n", "batch", "events/s", "req/s", "p50_ack", "p99_ack", "errors")
	for _, size := range sizes {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r, err := lg.run(ctx, size, *workers, *duration)
		if err != nil {
			return err
		}
		fmt.Printf("%-8d %12.0f %10.0f %10s %10s %8d\n", size, r.events, r.requests, r.p50, r.p99, r.errors)
	}
	if *wsEvents > 0 {
		p50, p99, got, err := lg.wsLatency(ctx, *wsEvents, *wsRate)
		if err != nil {
			return err
		}
		fmt.Printf("ingest->websocket: %d of %d events received, p50 %s, p99 %s (from event sent to message received)\n", got, *wsEvents, p50, p99)
	}
	return nil
}

type loadGen struct {
	base, key string
	tasks     int
	seq       atomic.Int64
}

type runResult struct {
	events, requests float64
	p50, p99         time.Duration
	errors           int64
}

// timedTransport times the requests a client sends, which the client
// does not report: loadgen's latencies are those of its requests.
type timedTransport struct {
	next     http.RoundTripper
	mu       sync.Mutex
	acks     []time.Duration
	failures atomic.Int64
}

func (t *timedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t0 := time.Now()
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode/100 != 2 {
		t.failures.Add(1)
		return resp, err
	}
	d := time.Since(t0)
	t.mu.Lock()
	t.acks = append(t.acks, d)
	t.mu.Unlock()
	return resp, nil
}

// newClient makes a client of workers senders and batches of size, whose
// requests tr times.
func (lg *loadGen) newClient(size, workers int, tr *timedTransport) (*client.Client, error) {
	tr.next = &http.Transport{MaxIdleConnsPerHost: workers * 2}
	return client.New(client.Config{
		URL: lg.base, APIKey: lg.key, MaxBatch: size, Senders: workers,
		HTTPClient: &http.Client{Transport: tr, Timeout: 30 * time.Second},
	})
}

// run sends for d with batches of size, and reports what the server
// acknowledged within d.
func (lg *loadGen) run(ctx context.Context, size, workers int, d time.Duration) (runResult, error) {
	tr := &timedTransport{}
	c, err := lg.newClient(size, workers, tr)
	if err != nil {
		return runResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	// Every sender's next batch waits, and no more: the server sets the
	// pace, and the queue never fills and drops.
	limit := uint64(2 * size * workers)
	for ctx.Err() == nil {
		if c.Stats().Queued >= limit {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		for range size {
			c.Progress(lg.event(""))
		}
	}
	elapsed := time.Since(start).Seconds()
	sent := c.Stats().Sent
	tr.mu.Lock()
	latencies := slices.Clone(tr.acks)
	tr.mu.Unlock()
	// What is still queued is sent, uncounted, so that the next batch
	// size starts on an idle server.
	closeCtx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	_ = c.Close(closeCtx)
	slices.Sort(latencies)
	return runResult{
		events:   float64(sent) / elapsed,
		requests: float64(len(latencies)) / elapsed,
		p50:      percentile(latencies, 0.50),
		p99:      percentile(latencies, 0.99),
		errors:   tr.failures.Load(),
	}, nil
}

// event is a progress report of about 330 bytes, the size of a typical
// one with a message and a few attributes; marker goes in its sent_ns
// attribute.
func (lg *loadGen) event(marker string) client.Progress {
	n := lg.seq.Add(1)
	task := n % int64(lg.tasks)
	return client.Progress{
		TaskID: "load-" + strconv.FormatInt(task, 10), UserID: "user-" + strconv.FormatInt(task%50, 10),
		TaskType: "scrape_docs", TaskName: "Scrape documentation site " + strconv.FormatInt(task, 10),
		Status: client.StatusRunning, Progress: client.Percent(float64(n % 100)), CurrentStep: "fetching pages",
		StepsDone: n % 100, StepsTotal: 100, Message: "fetched page " + strconv.FormatInt(n, 10) + " of the documentation",
		Seq: n, Attributes: map[string]string{"source": "loadgen", "region": "local", "sent_ns": marker},
	}
}

// wsLatency sends n single events at rate per second, each carrying its
// send time, and times their arrival on a WebSocket subscribed to all
// tasks.
func (lg *loadGen) wsLatency(ctx context.Context, n, rate int) (p50, p99 time.Duration, got int, err error) {
	wsURL := "ws" + strings.TrimPrefix(lg.base, "http") + "/v1/stream?all=true"
	header := http.Header{}
	if lg.key != "" {
		header.Set("Authorization", "Bearer "+lg.key)
	}
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, header)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("dial websocket: %w", err)
	}
	defer conn.Close()
	// Send only once the subscription is live: its snapshot comes first,
	// and may wait for a store still busy with the load before.
	var first struct {
		Type string `json:"type"`
	}
	if err := conn.ReadJSON(&first); err != nil || first.Type != "snapshot" {
		return 0, 0, 0, fmt.Errorf("websocket: want a snapshot first, got %q (%v)", first.Type, err)
	}

	var latencies []time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		for len(latencies) < n {
			var msg struct {
				Type  string `json:"type"`
				Event struct {
					Attributes map[string]string `json:"attributes"`
				} `json:"event"`
			}
			if err := conn.ReadJSON(&msg); err != nil {
				return
			}
			if sent, err := strconv.ParseInt(msg.Event.Attributes["sent_ns"], 10, 64); msg.Type == "progress" && err == nil && sent > 0 {
				latencies = append(latencies, time.Duration(time.Now().UnixNano()-sent))
			}
		}
	}()
	// Batches of one: each event is sent as soon as it is queued, by one
	// of a few senders, so that one slow answer holds up no other event.
	c, err := lg.newClient(1, 4, &timedTransport{})
	if err != nil {
		return 0, 0, 0, err
	}
	tick := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
	defer tick.Stop()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		<-tick.C
		c.Progress(lg.event(strconv.FormatInt(time.Now().UnixNano(), 10)))
	}
	if err := c.Close(ctx); err != nil {
		return 0, 0, 0, err
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		conn.Close()
		<-done
	}
	slices.Sort(latencies)
	return percentile(latencies, 0.5), percentile(latencies, 0.99), len(latencies), nil
}

// startLocal runs an all-in-one TaskPulse in this process on a temporary
// directory and returns its base URL.
func startLocal(ctx context.Context) (string, func(), error) {
	dir, err := os.MkdirTemp("", "taskpulse-loadgen-")
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var s app.Settings
	s.RegisterFlags(fs)
	if err := s.Parse(fs, []string{"--data-dir", dir}); err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	log := slog.New(slog.DiscardHandler)
	go func() { done <- app.Run(ctx, &s, ln, log) }()
	base := "http://" + ln.Addr().String()
	if err := waitReady(ctx, base); err != nil {
		cancel()
		return "", nil, err
	}
	return base, func() { cancel(); <-done; os.RemoveAll(dir) }, nil
}

func waitReady(ctx context.Context, base string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("TaskPulse did not become ready within 30s")
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))].Round(10 * time.Microsecond)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", part)
		}
		out = append(out, n)
	}
	return out, nil
}
