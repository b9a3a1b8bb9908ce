package stream

import (
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
)

// Connections that subscribe while a snapshot query runs wait for the
// next round, which reads every task subscription of the tenant in one
// query and each user subscription in another, and answers each
// connection with its own subscription's snapshot.
func TestConcurrentSubscriptionsShareSnapshotQueries(t *testing.T) {
	st := &fixedStore{
		tasks: []store.Task{
			task(tenantA, "t1", "u1", 1000, 0),
			task(tenantA, "t2", "u1", 2000, 0),
			task(tenantB, "t2", "u1", 3000, 0),
		},
		gate:    make(chan struct{}),
		queries: make(chan store.TaskFilter, 16),
	}
	h := start(t, Config{}, newTestBus(), st)
	first := h.dial(t, "api_key="+keyA+"&task_id=t0")
	require.Equal(t, []string{"t0"}, (<-st.queries).TaskIDs)

	subs := []string{"task_id=t1", "task_id=t2", "task_id=t3", "user_id=u1"}
	want := map[string][]string{"task_id=t1": {"t1"}, "task_id=t2": {"t2"}, "task_id=t3": {}, "user_id=u1": {"t1", "t2"}}
	conns := make([]*fws.Conn, 12)
	for i := range conns {
		conns[i] = h.dial(t, "api_key="+keyA+"&"+subs[i%len(subs)])
	}
	require.Eventually(t, func() bool {
		h.svc.snaps.mu.Lock()
		defer h.svc.snaps.mu.Unlock()
		return len(h.svc.snaps.waiting[tenantA]) == len(conns)
	}, 10*time.Second, time.Millisecond)
	close(st.gate)

	require.Empty(t, readType(t, first, TypeSnapshot).Tasks)
	for i, conn := range conns {
		var ids []string
		for _, task := range readType(t, conn, TypeSnapshot).Tasks {
			require.Equal(t, tenantA+"/"+task.TaskID, task.TaskName)
			ids = append(ids, task.TaskID)
		}
		require.ElementsMatch(t, want[subs[i%len(subs)]], ids, subs[i%len(subs)])
	}
	require.Len(t, st.queries, 2)
	tasks, user := <-st.queries, <-st.queries
	require.ElementsMatch(t, []string{"t1", "t2", "t3"}, tasks.TaskIDs)
	require.Equal(t, store.TaskFilter{Tenant: tenantA, UserID: "u1", Limit: DefaultSnapshotLimit + 1}, user)
}
