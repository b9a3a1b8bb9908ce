package kafka

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/taskpulse/taskpulse/internal/bus"
)

func TestLagCountsWhatTheGroupHasNotCommitted(t *testing.T) {
	b := openTest(t, testConfig(t))
	ctx := testContext(t, 60*time.Second)
	topic, group := randomName("logs"), randomName("writer")
	publish := func(n int) {
		t.Helper()
		recs := make([]bus.Record, n)
		for i := range recs {
			recs[i] = bus.Record{Topic: topic, Key: fmt.Appendf(nil, "task-%d", i%4), Value: []byte("v")}
		}
		if err := b.Publish(ctx, recs...); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	metric := LagCollector(b, group, topic)
	wantLag := func(want int64) {
		t.Helper()
		got, err := b.Lag(ctx, group, []string{topic})
		if err != nil {
			t.Fatalf("Lag: %v", err)
		}
		if got != want {
			t.Errorf("Lag = %d, want %d", got, want)
		}
		exposed := fmt.Sprintf("# HELP taskpulse_bus_lag_records Records of the Kafka bus the consumer group has not committed yet.\n# TYPE taskpulse_bus_lag_records gauge\ntaskpulse_bus_lag_records{group=%q} %d\n", group, want)
		if err := testutil.CollectAndCompare(metric, strings.NewReader(exposed)); err != nil {
			t.Errorf("metric: %v", err)
		}
	}

	publish(30)
	wantLag(30) // a group that never committed lags by everything
	consumeN(t, b, ctx, group, topic, 30)
	wantLag(0)
	publish(5)
	wantLag(5)
}
