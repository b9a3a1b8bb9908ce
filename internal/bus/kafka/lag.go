package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// Lag returns how many records of topics the consumer group has yet to
// commit, summed over their partitions. A partition the group has never
// committed counts whole.
func (b *Bus) Lag(ctx context.Context, group string, topics []string) (int64, error) {
	ctx, leave, err := b.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	topics = b.names(topics)
	ends, err := b.partitionEndsOnce(ctx, topics)
	if err != nil {
		return 0, err
	}
	req := &kafka.OffsetFetchRequest{GroupID: b.name(group), Topics: make(map[string][]int, len(ends))}
	for t, offsets := range ends {
		for _, o := range offsets {
			req.Topics[t] = append(req.Topics[t], o.Partition)
		}
	}
	resp, err := b.admin.OffsetFetch(ctx, req)
	if err == nil {
		err = resp.Error
	}
	if errors.Is(err, kafka.GroupIdNotFound) {
		// A group that has not joined yet has committed nothing.
		resp, err = &kafka.OffsetFetchResponse{}, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cannot fetch offsets of group %s: %w", group, err)
	}
	committed := make(map[string]map[int]int64, len(resp.Topics))
	for t, parts := range resp.Topics {
		committed[t] = make(map[int]int64, len(parts))
		for _, p := range parts {
			committed[t][p.Partition] = max(p.CommittedOffset, 0)
		}
	}
	var lag int64
	for t, offsets := range ends {
		for _, o := range offsets {
			lag += max(o.LastOffset-committed[t][o.Partition], 0)
		}
	}
	return lag, nil
}

// lagScrapeTimeout bounds the reads of one scrape, so a cluster that does
// not answer leaves the metric out instead of stalling /metrics.
const lagScrapeTimeout = 2 * time.Second

// LagCollector reports Lag of group over topics as
// taskpulse_bus_lag_records{group}, read from the cluster at each scrape.
// A scrape that cannot read it leaves the metric out.
func LagCollector(b *Bus, group string, topics ...string) prometheus.Collector {
	return &lagCollector{
		bus: b, group: group, topics: topics,
		desc: prometheus.NewDesc("taskpulse_bus_lag_records",
			"Records of the Kafka bus the consumer group has not committed yet.",
			nil, prometheus.Labels{"group": group}),
	}
}

type lagCollector struct {
	bus    *Bus
	group  string
	topics []string
	desc   *prometheus.Desc
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), lagScrapeTimeout)
	defer cancel()
	lag, err := c.bus.Lag(ctx, c.group, c.topics)
	if err != nil {
		c.bus.log.Warn("cannot read the bus lag", "group", c.group, "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(lag))
}
