package alerting

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/schema"
)

// The metric and log rules on a real store: samples and logs age
// out of a short window, which resolves the alerts.
func TestQueryRulesOnTheStore(t *testing.T) {
	onEachStore(t, func(t *testing.T, open storeOpener) {
		r := newReceiver(t, nil)
		e := newEnvOn(t, open, hookRules(r, `
  - id: latency
    kind: metric_threshold
    params: {metric: request_ms, agg: max, window: 700ms, op: ">", threshold: 100, group_by: [host]}
    interval: 20ms
    channels: [hook]
    notify_resolved: true
  - id: errors
    kind: error_log_rate
    params: {window: 700ms, threshold: 2}
    interval: 20ms
    channels: [hook]
    notify_resolved: true
`))
		e.series, e.logs = e.store, e.store
		s := e.start(t)

		ctx := context.Background()
		now := time.Now().UnixMilli()
		require.NoError(t, e.store.InsertMetrics(ctx, []schema.Metric{
			{Tenant: auth.DefaultTenant, EventID: "m1", Timestamp: now, Name: "request_ms", Kind: schema.KindGauge, Value: 250, Labels: map[string]string{"host": "a"}},
			{Tenant: auth.DefaultTenant, EventID: "m2", Timestamp: now, Name: "request_ms", Kind: schema.KindGauge, Value: 20, Labels: map[string]string{"host": "b"}},
		}))
		var logs []schema.Log
		for i := range 3 {
			logs = append(logs, schema.Log{Tenant: auth.DefaultTenant, EventID: fmt.Sprint("l", i), Timestamp: now, Level: schema.LevelError, Message: "boom"})
		}
		logs = append(logs, schema.Log{Tenant: auth.DefaultTenant, EventID: "w", Timestamp: now, Level: schema.LevelWarning, Message: "meh"})
		require.NoError(t, e.store.InsertLogs(ctx, logs))

		fired := s.waitDelivery(t, "latency", `host="a"`, "firing", schema.DeliverySent)
		require.Contains(t, fired.Body, "is 250")
		s.waitDelivery(t, "errors", "", "firing", schema.DeliverySent)
		s.waitDelivery(t, "latency", `host="a"`, "resolved", schema.DeliverySent)
		s.waitDelivery(t, "errors", "", "resolved", schema.DeliverySent)
		for _, n := range s.notifications(t, "") {
			require.NotEqual(t, `host="b"`, n.GroupKey)
		}
	})
}
