package stream

import (
	"encoding/json"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/internal/store"
)

// readUntil reads messages until one of type typ, and returns it whole.
func readUntil(t *testing.T, conn *fws.Conn, typ string) map[string]any {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	for {
		_, data, err := conn.ReadMessage()
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(data, &m))
		if m["type"] == typ {
			return m
		}
	}
}

// TestWorkersAndWatchersAreToldOfControl: a worker's control
// subscription gets the pending request at once and each new one; the
// followers of the task's progress see its control state in snapshots,
// in progress messages, and as it changes; progress messages carry the
// estimate.
func TestWorkersAndWatchersAreToldOfControl(t *testing.T) {
	now := time.Now().UnixMilli()
	st := &fixedStore{tasks: []store.Task{task(tenantA, "t1", "u1", now, 0)}}
	b := newTestBus()
	controls := control.NewRegistry(nil, nil, nil)
	r := control.Request{Tenant: tenantA, TaskID: "t1", UserID: "u1", Action: control.Cancel, RequestedAt: now,
		RequestedBy: "ana", AckDeadline: now + 30_000, Version: control.NewVersion(now, 0)}
	controls.Apply(r)
	h := startWith(t, Config{}, Deps{Bus: b, Store: st, Control: controls})

	worker := h.dial(t, "api_key="+keyA+"&control_user_id=u1")
	require.Equal(t, map[string]any{"user_id": "u1"}, readUntil(t, worker, TypeSubscribed)["control"])
	asked := readUntil(t, worker, TypeControl)["control"].(map[string]any)
	require.Equal(t, "t1", asked["task_id"])
	require.Equal(t, "cancel", asked["action"])
	other := h.dial(t, "api_key="+keyB+"&control_user_id=u1")
	readUntil(t, other, TypeSubscribed)

	watcher := h.dial(t, "api_key="+keyA+"&task_id=t1")
	snap := readUntil(t, watcher, TypeSnapshot)["tasks"].([]any)[0].(map[string]any)
	require.Equal(t, "cancel", snap["control"].(map[string]any)["action"])

	eta := int64(120)
	ev := progress(tenantA, "t1", "u1", now+1, 1, "working")
	ev.ETA = &eta
	b.publish(t, ev)
	got := readUntil(t, watcher, TypeProgress)["event"].(map[string]any)
	require.Equal(t, "client", got["eta_source"])
	require.InDelta(t, 120, got["eta"], 2)
	require.Equal(t, "ana", got["control"].(map[string]any)["requested_by"])

	// The worker acknowledges: the watcher is told, the worker is not
	// asked again.
	r.AcknowledgedAt, r.Version = now+2, r.Version+1
	controls.Apply(r)
	changed := readUntil(t, watcher, TypeTaskControl)
	require.Equal(t, "t1", changed["task_id"])
	require.NotNil(t, changed["control"].(map[string]any)["acknowledged_at"])

	next := control.Request{Tenant: tenantA, TaskID: "t2", UserID: "u1", Action: control.Pause, RequestedAt: now + 3,
		RequestedBy: "ana", AckDeadline: now + 30_000, Version: control.NewVersion(now+3, 0)}
	controls.Apply(next)
	require.Equal(t, "t2", readUntil(t, worker, TypeControl)["control"].(map[string]any)["task_id"],
		"the acknowledged request is not sent again; the next one is")

	// Another tenant's worker of a user of the same id hears nothing.
	require.NoError(t, other.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	_, data, err := other.ReadMessage()
	require.Error(t, err, "%s", data)
}
