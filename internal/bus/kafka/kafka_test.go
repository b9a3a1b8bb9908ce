package kafka

import (
	"testing"

	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/bus/bustest"
)

// TestConformance runs the bus conformance suite against the test brokers:
// a real Kafka when TASKPULSE_KAFKA_BROKERS is set, kfake otherwise.
func TestConformance(t *testing.T) {
	bustest.Run(t, func(t testing.TB) bus.Bus {
		return openTest(t, testConfig(t))
	})
}
