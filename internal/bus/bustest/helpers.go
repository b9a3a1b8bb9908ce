package bustest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/bus"
)

// wait bounds every Eventually. It is generous because a Kafka group
// rebalance takes seconds; the embedded bus needs milliseconds.
const (
	wait = 30 * time.Second
	tick = 5 * time.Millisecond
)

// randomName returns prefix followed by random hex, so scenarios never see
// each other's records on a shared broker.
func randomName(prefix string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("BUG: crypto/rand failed: " + err.Error())
	}
	return prefix + hex.EncodeToString(b[:])
}

// openBus opens a bus and closes it when the test ends. A bus the test
// closed itself may answer the second Close with ErrClosed.
func openBus(t *testing.T, open func(t testing.TB) bus.Bus) bus.Bus {
	t.Helper()
	b := open(t)
	t.Cleanup(func() {
		if err := b.Close(); err != nil && !errors.Is(err, bus.ErrClosed) {
			t.Errorf("cannot close bus: %v", err)
		}
	})
	return b
}

func publish(t testing.TB, b bus.Bus, recs ...bus.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, b.Publish(ctx, recs...))
}

// records builds one record per value, all with the same key.
func records(topic, key string, values ...string) []bus.Record {
	recs := make([]bus.Record, len(values))
	for i, v := range values {
		recs[i] = bus.Record{Topic: topic, Key: []byte(key), Value: []byte(v)}
	}
	return recs
}

// sink collects what a handler is given.
type sink struct {
	mu      sync.Mutex
	recs    []bus.Record
	batches []int
}

func (s *sink) handle(_ context.Context, batch []bus.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, batch...)
	s.batches = append(s.batches, len(batch))
	return nil
}

func (s *sink) records() []bus.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recs)
}

func (s *sink) batchSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

func (s *sink) values() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := make([]string, len(s.recs))
	for i, r := range s.recs {
		vs[i] = string(r.Value)
	}
	return vs
}

func (s *sink) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs)
}

func (s *sink) has(value string) bool {
	return slices.Contains(s.values(), value)
}

// background runs a blocking bus call until the returned stop is called
// or the test ends. stop cancels the call's context and returns its error.
func background(t testing.TB, run func(ctx context.Context) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func consume(t testing.TB, b bus.Bus, group string, topics []string, opts bus.ConsumeOptions, h bus.Handler) (stop func() error) {
	t.Helper()
	return background(t, func(ctx context.Context) error {
		return b.Consume(ctx, group, topics, opts, h)
	})
}

// subscribe returns once the subscription says it is in place, failing
// the test if it never does.
func subscribe(t testing.TB, b bus.Bus, topics []string, h bus.Handler) (stop func() error) {
	t.Helper()
	placed := make(chan struct{})
	stop = background(t, func(ctx context.Context) error {
		return b.Subscribe(bus.OnSubscribed(ctx, func() { close(placed) }), topics, h)
	})
	select {
	case <-placed:
	case <-time.After(wait):
		t.Fatalf("Subscribe to %v never called bus.Subscribed", topics)
	}
	return stop
}

// waitLen waits until s holds n records.
func waitLen(t testing.TB, s *sink, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return s.len() >= n }, wait, tick, "want %d records", n)
}

// without drops the given value from vs, for filtering handshake markers.
func without(vs []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(vs), func(v string) bool { return v == drop })
}

var quick = bus.ConsumeOptions{MaxBatch: 100, MaxWait: 20 * time.Millisecond}
