package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/bus/kafka"
	"github.com/taskpulse/taskpulse/schema"
)

// TestPoisonRecordGoesToDeadLetterOnKafka puts an undecodable record
// between two good ones of the same task (so the same partition) and
// checks that the writer parks it in the dead-letter topic, with why and
// where it came from, and stores the record behind it.
func TestPoisonRecordGoesToDeadLetterOnKafka(t *testing.T) {
	c := requireCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kb, err := kafka.Open(ctx, kafka.Config{Brokers: []string{c.brokers}, TopicPrefix: c.prefix}, kafka.WithTopics(schema.TopicProgress, schema.TopicDeadLetter))
	require.NoError(t, err)
	defer kb.Close()

	dead := make(chan bus.Record, 16)
	go kb.Subscribe(ctx, []string{schema.TopicDeadLetter}, func(_ context.Context, recs []bus.Record) error {
		for _, r := range recs {
			dead <- r
		}
		return nil
	})
	// Subscribe starts at the end of the topic: wait until it sees a marker.
	require.Eventually(t, func() bool {
		require.NoError(t, kb.Publish(ctx, bus.Record{Topic: schema.TopicDeadLetter, Key: []byte("marker")}))
		select {
		case <-dead:
			return true
		case <-time.After(500 * time.Millisecond):
			return false
		}
	}, 30*time.Second, 10*time.Millisecond)
	for len(dead) > 0 {
		<-dead
	}

	good := func(seq int64) bus.Record {
		progress := float64(seq * 10)
		p := schema.Progress{Tenant: "default", EventID: fmt.Sprintf("dl-%d", seq), Timestamp: time.Now().UnixMilli(), Seq: seq, TaskID: "poisoned", Status: schema.StatusRunning, Progress: &progress}
		b, err := schema.EncodeProgress(&p)
		require.NoError(t, err)
		return bus.Record{Topic: schema.TopicProgress, Key: []byte("poisoned"), Value: b}
	}
	require.NoError(t, kb.Publish(ctx, good(1), bus.Record{Topic: schema.TopicProgress, Key: []byte("poisoned"), Value: []byte("\x00not json")}, good(2)))

	c.start(t, "writer")
	query := c.start(t, "query")

	select {
	case r := <-dead:
		for string(r.Key) == "marker" {
			r = <-dead
		}
		require.Equal(t, "\x00not json", string(r.Value))
		require.Contains(t, r.Headers["reason"], "decode progress record")
		require.Equal(t, schema.TopicProgress, r.Headers["original_topic"])
		require.NotEmpty(t, r.Headers["original_partition"])
		require.NotEmpty(t, r.Headers["original_offset"])
	case <-ctx.Done():
		t.Fatal("no dead letter arrived")
	}
	task := query.waitTask(t, "", "poisoned", "running", 2)
	require.Equal(t, float64(20), task["progress"], "the record behind the poison one is stored")
}
