package stream

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a message or record is not sent, in the reason label of
// taskpulse_stream_messages_dropped_total.
const (
	// A newer event of the same task replaced it in a full queue.
	reasonCoalesced = "coalesced"
	// It was not newer than the task state the connection already had
	// (from its snapshot or an earlier event), such as a redelivery.
	reasonStale = "stale"
	// It was queued for a connection closed for being too slow.
	reasonSlowConsumer = "slow_consumer"
	// The bus record could not be decoded, so it reached nobody.
	reasonUndecodable = "undecodable"
	// A log found its connection's queue full; the client is told how
	// many it missed (logs_dropped).
	reasonLogsDropped = "logs_dropped"
	// A notification already pushed was delivered again by the bus.
	reasonDuplicate = "duplicate"
)

type metrics struct {
	connections   prometheus.Gauge
	subscriptions prometheus.Gauge
	sent          prometheus.Counter
	dropped       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "taskpulse_stream_connections",
			Help: "Open WebSocket connections.",
		}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "taskpulse_stream_subscriptions",
			Help: "Active subscriptions (progress, logs, notifications) over all WebSocket connections.",
		}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taskpulse_stream_messages_sent_total",
			Help: "Messages written to WebSocket connections.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskpulse_stream_messages_dropped_total",
			Help: "Messages not sent, by reason (coalesced, stale, slow_consumer, undecodable, logs_dropped, duplicate).",
		}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{m.connections, m.subscriptions, m.sent, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register stream metrics: %w", err)
		}
	}
	// Every reason is present from the start, so a rate() over it never
	// starts from a missing series.
	for _, r := range []string{reasonCoalesced, reasonStale, reasonSlowConsumer, reasonUndecodable, reasonLogsDropped, reasonDuplicate} {
		m.dropped.WithLabelValues(r)
	}
	return m, nil
}

func (m *metrics) drop(reason string, n int) {
	if n > 0 {
		m.dropped.WithLabelValues(reason).Add(float64(n))
	}
}
