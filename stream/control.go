package stream

import (
	"fmt"
	"time"

	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/schema"
)

// ControlSubscription selects the control requests a worker is pushed:
// those of one task, or of every task of one user. Exactly one field is
// set.
type ControlSubscription struct {
	TaskID string `json:"task_id,omitempty"`
	UserID string `json:"user_id,omitempty"`
}

func (s ControlSubscription) validate() error {
	switch {
	case (s.TaskID != "") == (s.UserID != ""):
		return &Error{Code: CodeInvalidMessage, Message: "control names exactly one of task_id or user_id"}
	case len(s.TaskID) > schema.MaxIDLen || len(s.UserID) > schema.MaxIDLen:
		return &Error{Code: CodeInvalidMessage, Message: fmt.Sprintf("task_id and user_id are at most %d bytes", schema.MaxIDLen)}
	}
	return nil
}

func (s ControlSubscription) matches(r *control.Request) bool {
	return s.TaskID == r.TaskID || (s.UserID != "" && s.UserID == r.UserID)
}

// controlMessage is a request pushed to a worker.
type controlMessage struct {
	Type    string            `json:"type"`
	Control *control.Delivery `json:"control"`
}

func controlFrame(r *control.Request) []byte {
	d := r.Delivery()
	return mustEncode(controlMessage{Type: TypeControl, Control: &d})
}

// taskControlMessage tells the followers of a task's progress that its
// control state changed.
type taskControlMessage struct {
	Type    string        `json:"type"`
	TaskID  string        `json:"task_id"`
	Control *control.View `json:"control"`
}

// routeControl pushes a request's new state: a new request to the workers
// that follow its task or user, and every change to the followers of the
// task's progress. The registry calls it from its own goroutine.
func (s *Service) routeControl(r control.Request) {
	var worker []byte
	if r.Pending() {
		worker = controlFrame(&r)
	}
	watcher := mustEncode(taskControlMessage{Type: TypeTaskControl, TaskID: r.TaskID, Control: r.View(time.Now().UnixMilli())})
	s.hub.publishControl(r, worker, watcher)
}

// publishControl hands the frames of r's new state to the connections of
// its tenant that follow it: worker (nil: none) to its workers, watcher to
// the followers of its task's progress; each connection once.
func (h *hub) publishControl(r control.Request, worker, watcher []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	t := h.tenants[r.Tenant]
	if t == nil {
		return
	}
	if worker != nil {
		for c := range union(t.controlTask[r.TaskID], t.controlUser[r.UserID]) {
			c.deliverControl(&r, worker)
		}
	}
	var byUser clientSet
	if r.UserID != "" {
		byUser = t.byUser[r.UserID]
	}
	for c := range union(t.byTask[r.TaskID], byUser, t.all) {
		c.deliverTaskControl(&r, watcher)
	}
}

// deliverTaskControl queues the frame of a task's control state if a
// progress subscription still covers the task.
func (c *client) deliverTaskControl(r *control.Request, frame []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped && c.covers(r.TaskID, r.UserID) {
		c.queue(message{frame: frame})
	}
}

// union is the connections of sets, each once.
func union(sets ...clientSet) clientSet {
	all := clientSet{}
	for _, set := range sets {
		for c := range set {
			all[c] = struct{}{}
		}
	}
	return all
}

// deliverControl queues a request's frame if a control subscription still
// wants it: the hub may route to a connection that has just unsubscribed.
func (c *client) deliverControl(r *control.Request, frame []byte) {
	queueIfWanted(c, &c.controls, func(sub ControlSubscription) bool { return sub.matches(r) }, frame)
}

// subscribeControl follows the requests of a task or a user's tasks. The
// hub learns of it before the confirmation is queued, and the requests
// pending then follow the confirmation, so that none is missed; one made
// meanwhile may come twice.
func (c *client) subscribeControl(sub ControlSubscription) {
	subscribeSet(c, &c.controls, sub, func() { c.svc.hub.editControl(c.tenant, sub, c, addTo) },
		subscribedMessage{Control: &sub}, func() {
			for _, r := range c.svc.control.Pending(c.tenant, sub.matches) {
				c.queue(message{frame: controlFrame(&r)})
			}
		})
}

func (c *client) unsubscribeControl(sub ControlSubscription) {
	unsubscribeSet(c, &c.controls, sub, func() { c.svc.hub.editControl(c.tenant, sub, c, removeFrom) },
		unsubscribedMessage{Control: &sub})
}

// editControl adds c to, or removes it from, the index of sub by change
// (addTo or removeFrom).
func (h *hub) editControl(tenant string, sub ControlSubscription, c *client, change func(map[string]clientSet, string, *client)) {
	h.edit(tenant, func(t *tenantIndex) {
		if sub.TaskID != "" {
			change(t.controlTask, sub.TaskID, c)
		} else {
			change(t.controlUser, sub.UserID, c)
		}
	})
}
