package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
)

// partitionLeader returns the 1-based place in brokers of the broker that
// leads partition 0 of topic.
func partitionLeader(t *testing.T, brokers []string, topic string) int {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	meta, err := client.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{topic}})
	require.NoError(t, err)
	require.Len(t, meta.Topics, 1)
	for _, p := range meta.Topics[0].Partitions {
		if p.ID == 0 {
			require.Len(t, p.Replicas, len(brokers), "partition 0 of %s has a replica on every broker", topic)
			require.Len(t, p.Isr, len(brokers), "every replica of %s/0 is in sync: the cluster is whole", topic)
			i := slices.Index(brokers, fmt.Sprintf("%s:%d", p.Leader.Host, p.Leader.Port))
			require.GreaterOrEqual(t, i, 0, "leader %v of %s/0 is one of %v", p.Leader, topic, brokers)
			return i + 1
		}
	}
	t.Fatalf("topic %s has no partition 0", topic)
	return 0
}

// topicRecords returns how many records the partitions of topic hold.
func topicRecords(t *testing.T, brokers []string, topic string) int64 {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	meta, err := client.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{topic}})
	require.NoError(t, err)
	var req []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		req = append(req, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	resp, err := client.ListOffsets(context.Background(), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
	require.NoError(t, err)
	var n int64
	for _, p := range resp.Topics[topic] {
		require.NoError(t, p.Error)
		n += p.LastOffset - p.FirstOffset
	}
	return n
}

// TestKafkaBrokerKilledUnderLoadCountsOnce kills -9 the broker that leads a
// partition of the progress topic while clients post, restarts it, and
// checks that every acknowledged event is read back exactly once: kafka-go
// has no idempotent producer, so the records a retried request writes twice
// must be removed by their event ids. A WebSocket client is sent every
// event, and a task failed during the fault alerts once.
func TestKafkaBrokerKilledUnderLoadCountsOnce(t *testing.T) {
	shared := requireCluster(t)
	brokers := requireKafkaCluster(t)
	c := newCluster(t, strings.Join(brokers, ","), shared.clickhouse)
	replicated := []string{"--kafka-replication-factor", "3", "--kafka-min-insync-replicas", "2"}
	start := func(t testing.TB, services string, extra ...string) *process {
		return c.start(t, services, append(slices.Clone(replicated), extra...)...)
	}
	ingest := start(t, "ingest")
	start(t, "writer")
	query := start(t, "query")
	signals := watchSignals(t, c, start(t, "stream"), start)

	load := startCarefulLoad(3, ingest.base)
	require.Eventually(t, func() bool { return load.total() > 2000 }, 60*time.Second, 10*time.Millisecond)
	topic := c.prefix + "progress"
	leader := partitionLeader(t, brokers, topic)
	queries := watchQueries(t, query)

	killed := time.Now()
	before := load.total()
	kafkaNode(t, brokers, "kill", leader)
	signals.failDuring(load)
	restart := undo(func() { kafkaNode(t, brokers, "restart", leader) })
	t.Cleanup(restart) // a failed test leaves the cluster whole
	// Two of three replicas are in sync, so acks=all with
	// min.insync.replicas=2 lets ingest take data again once the
	// partitions have new leaders.
	require.Eventually(t, func() bool { return load.total() > before+2000 }, 90*time.Second, 50*time.Millisecond,
		"ingest acknowledges again with one broker down")
	t.Logf("broker %d (%s) killed; %d more events acknowledged %s later", leader, brokers[leader-1], load.total()-before, time.Since(killed).Round(time.Millisecond))

	restart()
	t.Logf("broker %d back %s after the kill", leader, time.Since(killed).Round(time.Millisecond))
	restarted := load.total()
	require.Eventually(t, func() bool { return load.total() > restarted+2000 }, 60*time.Second, 50*time.Millisecond)

	accepted := load.finish()
	loadEnded := time.Now()
	require.Empty(t, queries.finish().errs, "queries answer throughout: they read ClickHouse, not Kafka")
	refused := "never"
	if !load.firstRefused.IsZero() {
		refused = fmt.Sprintf("from %s to %s after the kill", load.firstRefused.Sub(killed).Round(time.Millisecond), load.lastRefused.Sub(killed).Round(time.Millisecond))
	}
	t.Logf("acknowledged %d events over %d tasks; %d posts refused or unanswered (%s); slowest batch took %s from first post to 202; the topic holds %d records",
		load.total(), len(accepted), load.refused.Load(), refused, load.slowest.Round(time.Millisecond), topicRecords(t, brokers, topic))
	waitCounts(t, query, accepted)
	signals.finish(t, killed, loadEnded, accepted)
}
