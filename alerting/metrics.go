package alerting

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	evaluations *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	failures    *prometheus.CounterVec
	attempts    *prometheus.CounterVec
}

// newMetrics registers alerting's metrics on reg; count reports the
// alerts by state at scrape time.
func newMetrics(reg prometheus.Registerer, count func() map[State]int) (*metrics, error) {
	m := &metrics{
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskpulse_alerting_rule_evaluations_total",
			Help: "Rule evaluations, by rule kind.",
		}, []string{"kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "taskpulse_alerting_rule_evaluation_duration_seconds",
			Help:    "Time one rule evaluation took, notifications included, by rule kind.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}, []string{"kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskpulse_alerting_rule_evaluation_failures_total",
			Help: "Rule evaluations that failed to read the store, by rule kind.",
		}, []string{"kind"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskpulse_alerting_delivery_attempts_total",
			Help: "Delivery attempts, by channel and outcome (sent, failed, given_up).",
		}, []string{"channel", "outcome"}),
	}
	alerts := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "taskpulse_alerting_alerts",
		Help: "Alerts known to this process, by state.",
	}, []string{"state"})
	for _, c := range []prometheus.Collector{m.evaluations, m.duration, m.failures, m.attempts, &alertCounter{alerts, count}} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register alerting metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(k Kind, start time.Time) {
	m.evaluations.WithLabelValues(string(k)).Inc()
	m.duration.WithLabelValues(string(k)).Observe(time.Since(start).Seconds())
}

// alertCounter counts alerts by state at scrape time, so the gauge can
// never drift from the alerts themselves.
type alertCounter struct {
	gauge *prometheus.GaugeVec
	count func() map[State]int
}

func (c *alertCounter) Describe(ch chan<- *prometheus.Desc) { c.gauge.Describe(ch) }

func (c *alertCounter) Collect(ch chan<- prometheus.Metric) {
	counts := c.count()
	for _, st := range states {
		c.gauge.WithLabelValues(string(st)).Set(float64(counts[st]))
	}
	c.gauge.Collect(ch)
}
