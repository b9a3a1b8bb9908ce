package kafka

import (
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestTopicConfigMinInSyncReplicas(t *testing.T) {
	f := func(replication, minISR int, want []kafka.ConfigEntry) {
		t.Helper()
		b := &Bus{cfg: Config{ReplicationFactor: replication, MinInSyncReplicas: minISR}.withDefaults()}
		if got := b.topicConfig("progress").ConfigEntries; !slices.Equal(got, want) {
			t.Errorf("replication %d, min in-sync %d: config entries %v, want %v", replication, minISR, got, want)
		}
	}
	entry := func(v string) []kafka.ConfigEntry {
		return []kafka.ConfigEntry{{ConfigName: "min.insync.replicas", ConfigValue: v}}
	}
	// Unset, a single replica keeps the brokers' default.
	f(0, 0, nil)
	f(1, 0, nil)
	f(2, 0, nil)
	// Unset, three replicas or more need two of them.
	f(3, 0, entry("2"))
	f(5, 0, entry("2"))
	// Set, it is sent as it is.
	f(1, 1, entry("1"))
	f(3, 3, entry("3"))
	f(5, 2, entry("2"))
}

// topicConfigSource is DYNAMIC_TOPIC_CONFIG, the ConfigSource of a value
// set on the topic itself rather than taken from the brokers.
const topicConfigSource = 1

// TestCreatedTopicMinInSyncReplicas checks that the brokers store the
// setting on the topics the bus creates.
func TestCreatedTopicMinInSyncReplicas(t *testing.T) {
	cfg := testConfig(t)
	cfg.MinInSyncReplicas = 1
	topic := randomName("minisr")
	b := openTest(t, cfg, WithTopics(topic))
	resp, err := b.admin.DescribeConfigs(testContext(t, 30*time.Second), &kafka.DescribeConfigsRequest{
		Resources: []kafka.DescribeConfigRequestResource{{
			ResourceType: kafka.ResourceTypeTopic,
			ResourceName: b.name(topic),
			ConfigNames:  []string{"min.insync.replicas"},
		}},
	})
	if err != nil {
		t.Fatalf("DescribeConfigs: %v", err)
	}
	var got []string
	for _, r := range resp.Resources {
		if r.Error != nil {
			t.Fatalf("DescribeConfigs %s: %v", r.ResourceName, r.Error)
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName == "min.insync.replicas" && e.ConfigSource == topicConfigSource {
				got = append(got, e.ConfigValue)
			}
		}
	}
	if !slices.Equal(got, []string{"1"}) {
		t.Fatalf("min.insync.replicas set on the topic: %v, want [1]", got)
	}
}
