package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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

	"github.com/taskpulse/taskpulse/internal/app"
	"github.com/taskpulse/taskpulse/internal/config"
)

// loadgen posts progress events as fast as its workers can and prints the
// ingest rate and ack latencies for each batch size, then the latency from
// posting an event to receiving it over WebSocket. Without --target it
// starts an all-in-one TaskPulse of its own on a temporary directory.
func loadgen(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	target := fs.String("target", "", "base URL of a running TaskPulse (default: start one in-process on a temporary directory)")
	apiKey := fs.String("api-key", "", "API key to send")
	duration := fs.Duration("duration", 5*time.Second, "how long each batch size runs")
	batches := fs.String("batches", "1,100,500", "comma list of events per request")
	workers := fs.Int("concurrency", 8, "concurrent requests")
	tasks := fs.Int("tasks", 1000, "distinct task ids")
	format := fs.String("format", "json", "json (an array) or ndjson")
	wsEvents := fs.Int("ws-events", 2000, "events timed from post to WebSocket (0 skips it)")
	wsRate := fs.Int("ws-rate", 500, "events per second while timing WebSocket delivery")
	if err := config.Parse(fs, args, ""); err != nil {
		return err
	}
	sizes, err := parseInts(*batches)
	if err != nil {
		return fmt.Errorf("--batches: %w", err)
	}
	if *format != "json" && *format != "ndjson" {
		return errors.New("--format must be json or ndjson")
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
	lg := &loadGen{base: base, key: *apiKey, tasks: *tasks, format: *format, client: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: *workers * 2},
		Timeout:   30 * time.Second,
	}}
	fmt.Printf("target %s, %d workers, %s bodies, %s per batch size\n", base, *workers, *format, *duration)
	fmt.Printf("%-8s %12s %10s %10s %10s %8s\n", "batch", "events/s", "req/s", "p50_ack", "p99_ack", "errors")
	for _, size := range sizes {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r := lg.run(ctx, size, *workers, *duration)
		fmt.Printf("%-8d %12.0f %10.0f %10s %10s %8d\n", size, r.events, r.requests, r.p50, r.p99, r.errors)
	}
	if *wsEvents > 0 {
		p50, p99, got, err := lg.wsLatency(ctx, *wsEvents, *wsRate)
		if err != nil {
			return err
		}
		fmt.Printf("ingest->websocket: %d of %d events received, p50 %s, p99 %s (from post sent to message received)\n", got, *wsEvents, p50, p99)
	}
	return nil
}

type loadGen struct {
	base, key, format string
	tasks             int
	client            *http.Client
	seq               atomic.Int64
}

type runResult struct {
	events, requests float64
	p50, p99         time.Duration
	errors           int64
}

func (lg *loadGen) run(ctx context.Context, size, workers int, d time.Duration) runResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		accepted  atomic.Int64
		failures  atomic.Int64
		wg        sync.WaitGroup
	)
	// Bodies are made before the clock starts and then reused in turn, so
	// that the load generator spends its CPU on sending, not on formatting:
	// it shares the cores with the server it measures.
	pool := make([][]byte, bodyPoolSize)
	for i := range pool {
		pool[i] = lg.body(size, "")
	}
	var next atomic.Uint64
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				body := pool[next.Add(1)%bodyPoolSize]
				t0 := time.Now()
				if err := lg.post(ctx, body); err != nil {
					if ctx.Err() == nil {
						failures.Add(1)
					}
					continue
				}
				mine = append(mine, time.Since(t0))
				accepted.Add(int64(size))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	slices.Sort(latencies)
	return runResult{
		events:   float64(accepted.Load()) / elapsed,
		requests: float64(len(latencies)) / elapsed,
		p50:      percentile(latencies, 0.50),
		p99:      percentile(latencies, 0.99),
		errors:   failures.Load(),
	}
}

// bodyPoolSize is how many distinct bodies each batch size cycles through.
const bodyPoolSize = 64

// body builds size events of about 330 bytes each, the size of a typical
// progress report with a message and a few attributes.
func (lg *loadGen) body(size int, marker string) []byte {
	var buf bytes.Buffer
	if lg.format == "json" {
		buf.WriteByte('[')
	}
	for i := 0; i < size; i++ {
		n := lg.seq.Add(1)
		if i > 0 && lg.format == "json" {
			buf.WriteByte(',')
		}
		task := n % int64(lg.tasks)
		fmt.Fprintf(&buf, `{"task_id":"load-%d","user_id":"user-%d","task_type":"scrape_docs","task_name":"Scrape documentation site %d","status":"running","progress":%d,"current_step":"fetching pages","steps_done":%d,"steps_total":100,"message":"fetched page %d of the documentation","seq":%d,"attributes":{"source":"loadgen","region":"local","sent_ns":"%s"}}`,
			task, task%50, task, n%100, n%100, n, n, marker)
		if lg.format == "ndjson" {
			buf.WriteByte('\n')
		}
	}
	if lg.format == "json" {
		buf.WriteByte(']')
	}
	return buf.Bytes()
}

func (lg *loadGen) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, lg.base+"/v1/progress", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", map[string]string{"json": "application/json", "ndjson": "application/x-ndjson"}[lg.format])
	if lg.key != "" {
		req.Header.Set("Authorization", "Bearer "+lg.key)
	}
	resp, err := lg.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return nil
}

// wsLatency posts n single events at rate per second, each carrying its
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
	// Post only once the subscription is live: its snapshot comes first,
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
	saved := lg.format
	lg.format = "json"
	defer func() { lg.format = saved }()
	tick := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
	defer tick.Stop()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		<-tick.C
		if err := lg.post(ctx, lg.body(1, strconv.FormatInt(time.Now().UnixNano(), 10))); err != nil {
			return 0, 0, 0, err
		}
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
