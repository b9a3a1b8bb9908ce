package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"
)

// topicCache remembers the topics known to exist, so only the first use of
// a topic name costs a CreateTopics request.
type topicCache struct {
	mu    sync.Mutex
	known map[string]bool
}

func newTopicCache() *topicCache {
	return &topicCache{known: make(map[string]bool)}
}

// missing returns the topics not known to exist, each once.
func (c *topicCache) missing(topics []string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	seen := make(map[string]bool)
	for _, t := range topics {
		if !c.known[t] && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

func (c *topicCache) add(topics []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range topics {
		c.known[t] = true
	}
}

// ensureTopics creates the topics that do not exist yet, with the
// configured partitions and replication factor. The brokers' own
// auto-creation is not relied on: it is often disabled in production and
// would use the brokers' defaults instead of ours.
func (b *Bus) ensureTopics(ctx context.Context, topics []string) error {
	missing := b.topics.missing(topics)
	if len(missing) == 0 {
		return nil
	}
	req := &kafka.CreateTopicsRequest{}
	for _, t := range missing {
		if t == "" {
			return errors.New("cannot create topic: empty name")
		}
		req.Topics = append(req.Topics, b.topicConfig(t))
	}
	resp, err := b.admin.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("cannot create topics %v: %w", missing, err)
	}
	for t, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("cannot create topic %s: %w", t, err)
		}
	}
	if err := b.awaitTopics(ctx, missing); err != nil {
		return err
	}
	b.topics.add(missing)
	return nil
}

// awaitTopics waits until the writer's metadata holds topics with a leader
// for every partition. kafka-go refreshes its cached metadata after a
// topic it created itself, but not after one that already existed, created
// a moment ago by a concurrent call or by another process; writing to it
// would fail with UNKNOWN_TOPIC_OR_PARTITION until the next periodic
// refresh. Asking with AllowAutoTopicCreation makes the transport fetch
// metadata for topics missing from its cache and wait for them; the topics
// exist by now, so nothing is created.
func (b *Bus) awaitTopics(ctx context.Context, topics []string) error {
	req := &metadataAPI.Request{TopicNames: topics, AllowAutoTopicCreation: true}
	for {
		resp, err := b.transport.RoundTrip(ctx, b.admin.Addr, req)
		if err == nil {
			if err = topicsReady(resp.(*metadataAPI.Response), topics); err == nil {
				return nil
			}
		}
		if !unavailable(err) {
			return fmt.Errorf("cannot read metadata of topics %v: %w", topics, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cannot read metadata of topics %v: %w", topics, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func topicsReady(resp *metadataAPI.Response, topics []string) error {
	ready := 0
	for _, t := range resp.Topics {
		if !slices.Contains(topics, t.Name) {
			continue
		}
		if t.ErrorCode != 0 {
			return kafka.Error(t.ErrorCode)
		}
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				return kafka.Error(p.ErrorCode)
			}
			if p.LeaderID < 0 {
				return kafka.LeaderNotAvailable
			}
		}
		if len(t.Partitions) > 0 {
			ready++
		}
	}
	if ready < len(topics) {
		return kafka.UnknownTopicOrPartition
	}
	return nil
}

// topicConfig sets min.insync.replicas when it is configured, and
// otherwise to 2 on topics of three or more replicas, so that acks=all
// means "on two brokers" even if the cluster's default is 1. With fewer
// than three replicas that would stop writes whenever one broker is down,
// so those topics keep the cluster's default.
func (b *Bus) topicConfig(topic string) kafka.TopicConfig {
	tc := kafka.TopicConfig{
		Topic:             topic,
		NumPartitions:     b.cfg.Partitions,
		ReplicationFactor: b.cfg.ReplicationFactor,
	}
	minISR := b.cfg.MinInSyncReplicas
	if minISR == 0 && b.cfg.ReplicationFactor >= 3 {
		minISR = 2
	}
	if minISR > 0 {
		tc.ConfigEntries = []kafka.ConfigEntry{{ConfigName: "min.insync.replicas", ConfigValue: strconv.Itoa(minISR)}}
	}
	return tc
}

// partitionEnds returns the offset that the next record will take in each
// partition of topics. Right after a topic is created its partitions may
// have no leader yet, or one the metadata has not caught up with, so it
// asks again for a short while as long as the errors are transient.
func (b *Bus) partitionEnds(ctx context.Context, topics []string) (map[string][]kafka.PartitionOffsets, error) {
	const attempts = 50
	var lastErr error
	for range attempts {
		ends, err := b.partitionEndsOnce(ctx, topics)
		if err == nil {
			return ends, nil
		}
		if !unavailable(err) {
			return nil, err
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil, lastErr
}

func (b *Bus) partitionEndsOnce(ctx context.Context, topics []string) (map[string][]kafka.PartitionOffsets, error) {
	meta, err := b.admin.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("cannot read metadata of topics %v: %w", topics, err)
	}
	req := &kafka.ListOffsetsRequest{Topics: make(map[string][]kafka.OffsetRequest, len(topics))}
	for _, t := range meta.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("cannot read metadata of topic %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			if p.Error != nil || p.Leader.ID < 0 {
				return nil, fmt.Errorf("cannot read metadata of topic %s/%d: %w", t.Name, p.ID, kafka.LeaderNotAvailable)
			}
			req.Topics[t.Name] = append(req.Topics[t.Name], kafka.LastOffsetOf(p.ID))
		}
	}
	for _, t := range topics {
		if len(req.Topics[t]) == 0 {
			return nil, fmt.Errorf("cannot read metadata of topic %s: %w", t, kafka.UnknownTopicOrPartition)
		}
	}
	resp, err := b.admin.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("cannot list offsets of topics %v: %w", topics, err)
	}
	for t, offsets := range resp.Topics {
		for _, o := range offsets {
			if o.Error != nil {
				return nil, fmt.Errorf("cannot list offsets of %s/%d: %w", t, o.Partition, o.Error)
			}
		}
	}
	return resp.Topics, nil
}
