package alerting

import (
	"maps"
	"sync"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// taskState is what task rules need to know of one task: its latest event
// and when it started running.
type taskState struct {
	tenant, id                 string
	userID, taskType, taskName string
	status                     schema.Status
	errMsg                     string
	attrs                      map[string]string
	progress                   float64
	startedAt                  int64        // first running event, unix ms; 0 when never seen running
	updatedAt                  int64        // timestamp of the latest event, unix ms
	order                      schema.Order // of the latest event
}

type taskKey struct{ tenant, id string }

// taskTracker follows tasks from progress events, seeded from the store at
// start: the running ones, for stalls, and the recently failed ones.
type taskTracker struct {
	mu    sync.Mutex
	tasks map[taskKey]*taskState
}

func newTaskTracker() *taskTracker { return &taskTracker{tasks: map[taskKey]*taskState{}} }

// observe folds one event in and returns the task's state after it, or
// nil when the event was older than what is known (it changes nothing but,
// perhaps, when the task started).
//
// A tombstone is the task's last state: "deleted" is neither failed nor
// running, so every alert of the task resolves, and it is terminal, so the
// task is forgotten after TaskRetention like any finished one. It names no
// user, type or attributes, so the task keeps those it had, which the
// rules that alerted on it still match; and it keeps its order key, so an
// event from before the deletion that arrives later changes nothing, as
// in the store.
func (t *taskTracker) observe(p *schema.Progress) *taskState {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := taskKey{p.Tenant, p.TaskID}
	ts := t.tasks[k]
	if ts == nil {
		ts = &taskState{tenant: p.Tenant, id: p.TaskID}
		t.tasks[k] = ts
	}
	if p.Status == schema.StatusRunning && (ts.startedAt == 0 || p.Timestamp < ts.startedAt) {
		ts.startedAt = p.Timestamp
	}
	if ts.updatedAt != 0 && !p.Order().After(ts.order) {
		return nil
	}
	ts.updatedAt, ts.order = p.Timestamp, p.Order()
	ts.status, ts.errMsg = p.Status, p.Error
	ts.userID, ts.taskType, ts.taskName = keep(p.UserID, ts.userID), keep(p.TaskType, ts.taskType), keep(p.TaskName, ts.taskName)
	if p.Attributes != nil {
		ts.attrs = maps.Clone(p.Attributes)
	}
	if p.Progress != nil {
		ts.progress = *p.Progress
	}
	c := *ts
	return &c
}

// seed adds a task read from the store unless an event already told of a
// later state.
func (t *taskTracker) seed(st *store.Task) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := taskKey{st.Tenant, st.TaskID}
	if ts := t.tasks[k]; ts != nil && !st.Order().After(ts.order) {
		return
	}
	ts := &taskState{
		tenant: st.Tenant, id: st.TaskID, userID: st.UserID, taskType: st.TaskType, taskName: st.TaskName,
		status: st.Status, errMsg: st.Error, attrs: st.Attributes, progress: st.Progress,
		updatedAt: st.UpdatedAt, order: st.Order(),
	}
	if st.StartedAt != nil {
		ts.startedAt = *st.StartedAt
	}
	t.tasks[k] = ts
}

func keep(v, old string) string {
	if v == "" {
		return old
	}
	return v
}

// snapshot copies the tasks of a tenant, after forgetting those finished
// before horizon.
func (t *taskTracker) snapshot(tenant string, horizon int64) []taskState {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []taskState
	for k, ts := range t.tasks {
		if ts.status.Terminal() && ts.updatedAt < horizon {
			delete(t.tasks, k)
			continue
		}
		if k.tenant == tenant {
			out = append(out, *ts)
		}
	}
	return out
}

// labels are what a task rule's matchers and a silence see of a task:
// its attributes, then the task's own fields, which win.
func (ts *taskState) labels() map[string]string {
	l := maps.Clone(ts.attrs)
	if l == nil {
		l = map[string]string{}
	}
	l["task_id"], l["task_type"], l["user_id"], l["task_name"] = ts.id, ts.taskType, ts.userID, ts.taskName
	return l
}
