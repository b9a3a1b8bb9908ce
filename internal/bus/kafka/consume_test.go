package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/taskpulse/taskpulse/internal/bus"
)

func TestConsumeRoundTrip(t *testing.T) {
	b := openTest(t, testConfig(t))
	ctx := testContext(t, 30*time.Second)
	topic := randomName("progress")
	var sent []bus.Record
	for i := range 20 {
		sent = append(sent, bus.Record{
			Topic:   topic,
			Key:     fmt.Appendf(nil, "task-%d", i%3),
			Value:   fmt.Appendf(nil, "event-%d", i),
			Headers: map[string]string{"traceparent": fmt.Sprintf("00-%d", i)},
		})
	}
	if err := b.Publish(ctx, sent...); err != nil {
		t.Fatalf("Publish: %v", err)
	}

	got := consumeN(t, b, ctx, randomName("writer"), topic, len(sent))
	byValue := make(map[string]bus.Record)
	for _, r := range got {
		byValue[string(r.Value)] = r
	}
	for _, s := range sent {
		r, ok := byValue[string(s.Value)]
		if !ok {
			t.Fatalf("record %s not delivered", s.Value)
		}
		if r.Topic != topic || string(r.Key) != string(s.Key) || !maps.Equal(r.Headers, s.Headers) {
			t.Errorf("delivered %+v, want topic %s, key %s, headers %v", r, topic, s.Key, s.Headers)
		}
	}
	// Per key, records arrive in publish order.
	last := make(map[string]int)
	for _, r := range got {
		var n int
		fmt.Sscanf(string(r.Value), "event-%d", &n)
		if prev, ok := last[string(r.Key)]; ok && n < prev {
			t.Errorf("key %s: event-%d after event-%d", r.Key, n, prev)
		}
		last[string(r.Key)] = n
	}
}

// TestConsumeFailedHandlerRedelivers checks commit-after-handler: a batch
// whose handler failed is delivered again to the group's next consumer.
func TestConsumeFailedHandlerRedelivers(t *testing.T) {
	b := openTest(t, testConfig(t))
	ctx := testContext(t, 60*time.Second)
	topic, group := randomName("logs"), randomName("writer")
	if err := b.Publish(ctx, bus.Record{Topic: topic, Key: []byte("k"), Value: []byte("only")}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	failure := errors.New("store down")
	err := b.Consume(ctx, group, []string{topic}, bus.ConsumeOptions{MaxBatch: 10, MaxWait: 10 * time.Millisecond},
		func(context.Context, []bus.Record) error { return failure })
	if !errors.Is(err, failure) {
		t.Fatalf("Consume = %v, want the handler's error", err)
	}
	got := consumeN(t, b, ctx, group, topic, 1)
	if string(got[0].Value) != "only" {
		t.Fatalf("redelivered %q, want %q", got[0].Value, "only")
	}
}

func TestCloseStopsConsumers(t *testing.T) {
	b, err := Open(context.Background(), testConfig(t))
	if err != nil {
		t.Fatalf("cannot open bus: %v", err)
	}
	topic := randomName("metrics")
	done := make(chan error, 2)
	go func() {
		done <- b.Consume(context.Background(), randomName("writer"), []string{topic}, bus.ConsumeOptions{},
			func(context.Context, []bus.Record) error { return nil })
	}()
	go func() {
		done <- b.Subscribe(context.Background(), []string{topic}, func(context.Context, []bus.Record) error { return nil })
	}()
	time.Sleep(500 * time.Millisecond)
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range 2 {
		if err := <-done; !errors.Is(err, bus.ErrClosed) {
			t.Errorf("running call after Close = %v, want bus.ErrClosed", err)
		}
	}
	noop := func(context.Context, []bus.Record) error { return nil }
	if err := b.Consume(context.Background(), "g", []string{topic}, bus.ConsumeOptions{}, noop); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Consume after Close = %v, want bus.ErrClosed", err)
	}
	if err := b.Subscribe(context.Background(), []string{topic}, noop); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want bus.ErrClosed", err)
	}
}

// TestSubscribeFromNow checks that a subscriber sees what is published after
// it started and nothing from before.
func TestSubscribeFromNow(t *testing.T) {
	b := openTest(t, testConfig(t))
	ctx := testContext(t, 30*time.Second)
	topic := randomName("progress")
	if err := b.Publish(ctx, bus.Record{Topic: topic, Key: []byte("k"), Value: []byte("old")}); err != nil {
		t.Fatalf("Publish: %v", err)
	}

	got := make(chan bus.Record, 10)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Subscribe(sctx, []string{topic}, func(_ context.Context, batch []bus.Record) error {
			for _, r := range batch {
				got <- r
			}
			return nil
		})
	}()
	// Subscribe resolves the partition ends before it reads; publish until
	// a record comes through, then check no older one did.
	deadline := time.After(20 * time.Second)
	for i := 0; ; i++ {
		if err := b.Publish(ctx, bus.Record{Topic: topic, Key: []byte("k"), Value: fmt.Appendf(nil, "new-%d", i)}); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		select {
		case r := <-got:
			if string(r.Value) == "old" {
				t.Fatalf("subscriber saw a record published before it started")
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Subscribe after cancel = %v, want nil", err)
			}
			return
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("subscriber saw nothing")
		}
	}
}

// consumeN consumes topic in group until it has n records, then returns
// them in delivery order.
func consumeN(t *testing.T, b *Bus, ctx context.Context, group, topic string, n int) []bus.Record {
	t.Helper()
	o := bus.ConsumeOptions{MaxBatch: 100, MaxWait: 20 * time.Millisecond}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var got []bus.Record
	err := b.Consume(cctx, group, []string{topic}, o, func(_ context.Context, batch []bus.Record) error {
		got = append(got, batch...)
		if len(got) >= n {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	if len(got) < n {
		t.Fatalf("consumed %d records, want %d (context ended: %v)", len(got), n, ctx.Err())
	}
	return got
}
