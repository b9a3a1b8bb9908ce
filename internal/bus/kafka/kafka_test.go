package kafka

import (
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/bus/bustest"
)

// TestConformance runs the bus conformance suite against the test brokers:
// a real Kafka when TASKPULSE_KAFKA_BROKERS is set, kfake otherwise. Each
// bus gets its own topic prefix, so the suite also proves that prefixed
// names never reach the records.
func TestConformance(t *testing.T) {
	bustest.Run(t, func(t testing.TB) bus.Bus {
		cfg := testConfig(t)
		cfg.TopicPrefix = randomName("conf") + "."
		return openTest(t, cfg)
	})
}

// TestTopicPrefix checks that the prefix names the topic in the cluster,
// and that records are published and delivered under the bus's name.
func TestTopicPrefix(t *testing.T) {
	cfg := testConfig(t)
	cfg.TopicPrefix = randomName("tenant") + "-"
	b := openTest(t, cfg, WithTopics("progress"))
	ctx := testContext(t, 30*time.Second)

	meta, err := b.admin.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{cfg.TopicPrefix + "progress"}})
	if err != nil {
		t.Fatalf("cannot read metadata: %v", err)
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil || len(meta.Topics[0].Partitions) != cfg.Partitions {
		t.Fatalf("topic %sprogress: %+v, want %d partitions", cfg.TopicPrefix, meta.Topics, cfg.Partitions)
	}
	if err := b.Publish(ctx, bus.Record{Topic: "progress", Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	got := consumeN(t, b, ctx, "writer", "progress", 1)
	if got[0].Topic != "progress" {
		t.Fatalf("delivered topic %q, want %q", got[0].Topic, "progress")
	}
}
