package alerting

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/schema"
)

// A deleted task's alerts resolve, and an event from before the deletion
// that arrives later does not make them fire again.
func TestDeletedTaskResolvesItsAlerts(t *testing.T) {
	onEachStore(t, func(t *testing.T, open storeOpener) {
		r := newReceiver(t, nil)
		e := newEnvOn(t, open, hookRules(r, `
  - id: failed
    kind: task_failed
    task_type: build_package
    channels: [hook]
    notify_resolved: true
`))
		s := e.start(t)
		failedAt := time.Now().UnixMilli()
		e.taskEvent(t, schema.Progress{TaskID: "t1", TaskType: "build_package", Status: schema.StatusFailed, Timestamp: failedAt})
		s.waitDelivery(t, "failed", "t1", "firing", schema.DeliverySent)

		// The tombstone as the delete route makes it: no user, type or
		// attributes.
		e.tombstone(t, "t1", failedAt+1)
		s.waitDelivery(t, "failed", "t1", "resolved", schema.DeliverySent)

		e.taskEvent(t, schema.Progress{TaskID: "t1", TaskType: "build_package", Status: schema.StatusFailed, Timestamp: failedAt - 1})
		e.taskEvent(t, schema.Progress{TaskID: "t2", TaskType: "build_package", Status: schema.StatusFailed})
		s.waitDelivery(t, "failed", "t2", "firing", schema.DeliverySent)
		var told []string
		for _, req := range r.requests() {
			n := decodeNotification(t, req.body)
			told = append(told, n.TaskID+" "+n.State)
		}
		require.Equal(t, []string{"t1 firing", "t1 resolved", "t2 firing"}, told)
	})
}

// tombstone publishes and stores the tombstone of a task, as the delete
// route and the writer would.
func (e *env) tombstone(t testing.TB, taskID string, ts int64) {
	t.Helper()
	p := schema.Progress{Tenant: auth.DefaultTenant, EventID: taskID + "-tomb", Timestamp: ts, TaskID: taskID, Status: schema.StatusDeleted}
	raw, err := schema.EncodeProgress(&p)
	require.NoError(t, err)
	require.NoError(t, e.store.InsertProgress(context.Background(), []schema.Progress{p}))
	require.NoError(t, e.bus.Publish(context.Background(), bus.Record{Topic: schema.TopicProgress, Key: []byte(taskID), Value: raw}))
}
