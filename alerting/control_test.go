package alerting

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/schema"
)

// TestControlUnacknowledgedFiresAndResolves: a control request that
// passes its deadline while the task runs fires the rule, through the
// evaluator and the registry fed by the bus; the task's acknowledgement
// resolves it. A request acknowledged in time never fires.
func TestControlUnacknowledgedFiresAndResolves(t *testing.T) {
	r := newReceiver(t, nil)
	e := newEnv(t, hookRules(r, `
  - id: deaf-worker
    kind: control_unacknowledged
    channels: [hook]
    notify_resolved: true
`))
	e.control = control.NewRegistry(e.bus, e.store, nil)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- e.control.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-ran) })
	require.Eventually(t, func() bool { return e.control.Ready(ctx) == nil }, 10*time.Second, time.Millisecond)
	s := e.start(t)

	ask := func(task string, action control.Action, timeout time.Duration) {
		now := time.Now().UnixMilli()
		req := control.Request{Tenant: auth.DefaultTenant, TaskID: task, UserID: "u1", ID: "req-" + task, Action: action,
			RequestedAt: now, RequestedBy: "ana", AckDeadline: now + timeout.Milliseconds(), Version: control.NewVersion(now, 0)}
		require.NoError(t, e.bus.Publish(ctx, bus.Record{Topic: control.TopicControl, Key: []byte(task), Value: req.Encode()}))
	}
	e.taskEvent(t, schema.Progress{TaskID: "deaf", Status: schema.StatusRunning})
	e.taskEvent(t, schema.Progress{TaskID: "prompt", Status: schema.StatusRunning})
	ask("deaf", control.Pause, 200*time.Millisecond)
	ask("prompt", control.Pause, 200*time.Millisecond)
	e.taskEvent(t, schema.Progress{TaskID: "prompt", Status: schema.StatusPaused})

	fired := s.waitDelivery(t, "deaf-worker", "deaf", "firing", schema.DeliverySent)
	require.Contains(t, fired.Body, "pause")
	require.Contains(t, fired.Body, "ana")

	e.taskEvent(t, schema.Progress{TaskID: "deaf", Status: schema.StatusPaused})
	s.waitDelivery(t, "deaf-worker", "deaf", "resolved", schema.DeliverySent)
	for _, n := range s.notifications(t, "") {
		require.Equal(t, "deaf", n.TaskID, "the request acknowledged in time must not alert")
	}
}
