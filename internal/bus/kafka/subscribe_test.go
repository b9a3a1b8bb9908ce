package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/taskpulse/taskpulse/internal/bus"
)

// TestSubscribeEverySingleRecord checks the stream's case: one process
// creates the topic, another subscribes right after, and records to new
// keys are published one at a time, each waited for. Every one of them
// must reach the subscriber, whichever partition its key hashes to, with
// its headers.
func TestSubscribeEverySingleRecord(t *testing.T) {
	const records = 200
	cfg := testConfig(t)
	cfg.Partitions = 6
	cfg.TopicPrefix = randomName("single") + "."
	topic := "progress"
	publisher := openTest(t, cfg, WithTopics(topic))
	subscriber := openTest(t, cfg)
	ctx := testContext(t, 2*time.Minute)

	got := make(chan bus.Record, records)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- subscriber.Subscribe(sctx, []string{topic}, func(_ context.Context, batch []bus.Record) error {
			for _, r := range batch {
				got <- r
			}
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Subscribe = %v, want nil after cancel", err)
		}
	})

	// Subscribe reads every partition's end before it reads any record, so
	// once one record arrives, everything published from then on is owed.
	publish := func(key, value string) {
		t.Helper()
		rec := bus.Record{Topic: topic, Key: []byte(key), Value: []byte(value), Headers: map[string]string{"tenant": "default"}}
		if err := publisher.Publish(ctx, rec); err != nil {
			t.Fatalf("Publish %s: %v", value, err)
		}
	}
	started := time.After(30 * time.Second)
ready:
	for i := 0; ; i++ {
		publish("ready", fmt.Sprintf("ready-%d", i))
		select {
		case <-got:
			break ready
		case <-time.After(200 * time.Millisecond):
		case <-started:
			t.Fatal("subscriber saw nothing")
		}
	}

	for i := range records {
		want := fmt.Sprintf("task-%d", i)
		publish(want, want)
		deadline := time.After(10 * time.Second)
	wait:
		for {
			select {
			case r := <-got:
				if strings.HasPrefix(string(r.Value), "ready-") {
					continue // a handshake record published before the first arrived
				}
				if string(r.Value) != want || string(r.Key) != want || r.Headers["tenant"] != "default" {
					t.Fatalf("delivered key %s value %s headers %v, want %s with its tenant header", r.Key, r.Value, r.Headers, want)
				}
				break wait
			case <-deadline:
				t.Fatalf("record %s of %d never reached the subscriber", want, records)
			}
		}
	}
}
