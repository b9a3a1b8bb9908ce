package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
)

// requireKafkaCluster returns the brokers of a Kafka cluster of three or
// more (deploy/kafka.sh start --brokers 3) from
// TASKPULSE_KAFKA_CLUSTER_BROKERS, beside the shared servers. Without it
// the test is skipped, except in CI, where it is a failure.
func requireKafkaCluster(t *testing.T) []string {
	t.Helper()
	s := os.Getenv("TASKPULSE_KAFKA_CLUSTER_BROKERS")
	if s == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but TASKPULSE_KAFKA_CLUSTER_BROKERS is not set: start the cluster with deploy/kafka.sh start --brokers 3")
		}
		t.Skip("set TASKPULSE_KAFKA_CLUSTER_BROKERS (deploy/kafka.sh start --brokers 3) to run against a Kafka cluster")
	}
	brokers := strings.Split(s, ",")
	require.GreaterOrEqual(t, len(brokers), 3, "TASKPULSE_KAFKA_CLUSTER_BROKERS names fewer than three brokers")
	return brokers
}

// kafkaNode runs deploy/kafka.sh on one node of the cluster: node i is the
// i-th broker of the list, and the script finds the cluster's state from
// the first broker's port and TASKPULSE_KAFKA_DIR, as when it started it.
func kafkaNode(t *testing.T, brokers []string, verb string, node int) {
	t.Helper()
	_, port, _ := strings.Cut(brokers[0], ":")
	cmd := exec.Command("bash", filepath.Join("..", "..", "deploy", "kafka.sh"), verb, fmt.Sprint(node), "--brokers", fmt.Sprint(len(brokers)))
	cmd.Env = append(os.Environ(), "TASKPULSE_KAFKA_PORT="+port)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "kafka.sh %s %d: %s", verb, node, out)
}

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

// carefulLoad posts batches of events with ids of its own and, as a
// careful client does, posts a refused or unanswered batch again with the
// same ids until it is acknowledged. A refused batch may still have
// reached Kafka, so its retry is a duplicate the pipeline must count once.
type carefulLoad struct {
	base     string
	mu       sync.Mutex
	accepted map[string]int // task id -> acknowledged events
	slowest  time.Duration  // longest from a batch's first post to its 202
	refused  atomic.Int64   // 503s and unanswered posts
	stop     chan struct{}
	wg       sync.WaitGroup
	// firstRefused and lastRefused bound the time ingest refused posts.
	firstRefused, lastRefused time.Time
}

func startCarefulLoad(base string, workers int) *carefulLoad {
	l := &carefulLoad{base: base, accepted: map[string]int{}, stop: make(chan struct{})}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				task := fmt.Sprintf("cluster-%d-%d", w, i%40)
				items := make([]string, 20)
				for j := range items {
					items[j] = fmt.Sprintf(`{"task_id":%q,"event_id":"c%d-%d-%d","status":"running","progress":%d,"seq":%d}`, task, w, i, j, j*5, i*20+j)
				}
				took := l.postUntilAccepted(client, "["+strings.Join(items, ",")+"]")
				l.mu.Lock()
				l.accepted[task] += len(items)
				l.slowest = max(l.slowest, took)
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *carefulLoad) postUntilAccepted(client *http.Client, body string) time.Duration {
	start := time.Now()
	for {
		resp, err := client.Post(l.base+"/v1/progress", "application/json", strings.NewReader(body))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				return time.Since(start)
			}
		}
		l.refused.Add(1)
		l.mu.Lock()
		if l.firstRefused.IsZero() {
			l.firstRefused = time.Now()
		}
		l.lastRefused = time.Now()
		l.mu.Unlock()
		time.Sleep(200 * time.Millisecond)
	}
}

func (l *carefulLoad) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, v := range l.accepted {
		n += v
	}
	return n
}

// finish waits for every batch in flight to be acknowledged.
func (l *carefulLoad) finish() map[string]int {
	close(l.stop)
	l.wg.Wait()
	return l.accepted
}

// pollQueries lists tasks through the query API until ctx ends and
// returns what went wrong with the reads that did not answer 200.
func pollQueries(ctx context.Context, query *process) <-chan []string {
	failures := make(chan []string, 1)
	go func() {
		client := &http.Client{Timeout: 10 * time.Second}
		var failed []string
		for ctx.Err() == nil {
			resp, err := client.Get(query.base + "/v1/tasks?limit=10")
			switch {
			case err != nil:
				failed = append(failed, err.Error())
			case resp.StatusCode != http.StatusOK:
				failed = append(failed, resp.Status)
			}
			if err == nil {
				resp.Body.Close()
			}
			time.Sleep(100 * time.Millisecond)
		}
		failures <- failed
	}()
	return failures
}

// TestKafkaBrokerKilledUnderLoadCountsOnce kills -9 the broker that leads a
// partition of the progress topic while clients post, restarts it, and
// checks that every acknowledged event is read back exactly once: kafka-go
// has no idempotent producer, so the records a retried request writes twice
// must be removed by their event ids.
func TestKafkaBrokerKilledUnderLoadCountsOnce(t *testing.T) {
	shared := requireCluster(t)
	brokers := requireKafkaCluster(t)
	c := newCluster(t, strings.Join(brokers, ","), shared.clickhouse)
	replicated := []string{"--kafka-replication-factor", "3", "--kafka-min-insync-replicas", "2"}
	ingest := c.start(t, "ingest", replicated...)
	c.start(t, "writer", replicated...)
	query := c.start(t, "query", replicated...)

	load := startCarefulLoad(ingest.base, 3)
	require.Eventually(t, func() bool { return load.total() > 2000 }, 60*time.Second, 10*time.Millisecond)
	topic := c.prefix + "progress"
	leader := partitionLeader(t, brokers, topic)
	ctx, stopPolling := context.WithCancel(context.Background())
	defer stopPolling()
	queryFailures := pollQueries(ctx, query)

	killed := time.Now()
	before := load.total()
	kafkaNode(t, brokers, "kill", leader)
	restart := sync.OnceFunc(func() { kafkaNode(t, brokers, "restart", leader) })
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
	stopPolling()
	require.Empty(t, <-queryFailures, "queries answer throughout: they read ClickHouse, not Kafka")
	refused := "never"
	if !load.firstRefused.IsZero() {
		refused = fmt.Sprintf("from %s to %s after the kill", load.firstRefused.Sub(killed).Round(time.Millisecond), load.lastRefused.Sub(killed).Round(time.Millisecond))
	}
	t.Logf("acknowledged %d events over %d tasks; %d posts refused or unanswered (%s); slowest batch took %s from first post to 202; the topic holds %d records",
		load.total(), len(accepted), load.refused.Load(), refused, load.slowest.Round(time.Millisecond), topicRecords(t, brokers, topic))
	waitCounts(t, query, accepted)
}
