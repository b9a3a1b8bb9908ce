package stream

import (
	"sync"

	"github.com/taskpulse/taskpulse/schema"
)

// hub indexes subscriptions by tenant, then by what they select: progress
// by task, user or "all", logs by task, notifications by user or "all". So
// routing a record costs a few map lookups plus one delivery per follower,
// however many unrelated connections there are.
//
// Lock order: hub.mu before client.mu. The hub calls a client's deliver
// methods with its read lock held; clients never call the hub with their
// own lock held.
type hub struct {
	mu      sync.RWMutex
	tenants map[string]*tenantIndex
	// render adds the estimate and the control request to the events
	// this hub encodes; set before any is.
	render renderer
}

type clientSet map[*client]struct{}

type tenantIndex struct {
	byTask map[string]clientSet
	byUser map[string]clientSet
	all    clientSet

	logs map[string]clientSet

	notifyUser map[string]clientSet
	notifyAll  clientSet

	controlTask map[string]clientSet
	controlUser map[string]clientSet
}

func newHub() *hub {
	return &hub{tenants: make(map[string]*tenantIndex)}
}

func newTenantIndex() *tenantIndex {
	return &tenantIndex{
		byTask: map[string]clientSet{}, byUser: map[string]clientSet{}, all: clientSet{},
		logs:       map[string]clientSet{},
		notifyUser: map[string]clientSet{}, notifyAll: clientSet{},
		controlTask: map[string]clientSet{}, controlUser: map[string]clientSet{},
	}
}

func (t *tenantIndex) followsProgress() bool {
	return len(t.byTask)+len(t.byUser)+len(t.all) > 0
}

func (t *tenantIndex) followsNotifications() bool {
	return len(t.notifyUser)+len(t.notifyAll) > 0
}

func (t *tenantIndex) empty() bool {
	return !t.followsProgress() && len(t.logs) == 0 && !t.followsNotifications() &&
		len(t.controlTask)+len(t.controlUser) == 0
}

// edit applies change to tenant's index, made on first use and dropped
// once empty, so that follows stays a single lookup.
func (h *hub) edit(tenant string, change func(*tenantIndex)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.tenants[tenant]
	if t == nil {
		t = newTenantIndex()
		h.tenants[tenant] = t
	}
	change(t)
	if t.empty() {
		delete(h.tenants, tenant)
	}
}

func (h *hub) add(tenant string, sub Subscription, c *client) {
	h.edit(tenant, func(t *tenantIndex) {
		switch {
		case sub.All:
			t.all[c] = struct{}{}
		case sub.TaskID != "":
			addTo(t.byTask, sub.TaskID, c)
		default:
			addTo(t.byUser, sub.UserID, c)
		}
	})
}

func (h *hub) remove(tenant string, sub Subscription, c *client) {
	h.edit(tenant, func(t *tenantIndex) {
		switch {
		case sub.All:
			delete(t.all, c)
		case sub.TaskID != "":
			removeFrom(t.byTask, sub.TaskID, c)
		default:
			removeFrom(t.byUser, sub.UserID, c)
		}
	})
}

func (h *hub) addLogs(tenant, taskID string, c *client) {
	h.edit(tenant, func(t *tenantIndex) { addTo(t.logs, taskID, c) })
}

func (h *hub) removeLogs(tenant, taskID string, c *client) {
	h.edit(tenant, func(t *tenantIndex) { removeFrom(t.logs, taskID, c) })
}

func (h *hub) addNotifications(tenant string, sub NotificationSubscription, c *client) {
	h.edit(tenant, func(t *tenantIndex) {
		if sub.All {
			t.notifyAll[c] = struct{}{}
		} else {
			addTo(t.notifyUser, sub.UserID, c)
		}
	})
}

func (h *hub) removeNotifications(tenant string, sub NotificationSubscription, c *client) {
	h.edit(tenant, func(t *tenantIndex) {
		if sub.All {
			delete(t.notifyAll, c)
		} else {
			removeFrom(t.notifyUser, sub.UserID, c)
		}
	})
}

func addTo(m map[string]clientSet, key string, c *client) {
	set := m[key]
	if set == nil {
		set = clientSet{}
		m[key] = set
	}
	set[c] = struct{}{}
}

func removeFrom(m map[string]clientSet, key string, c *client) {
	if set := m[key]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(m, key)
		}
	}
}

// follows reports whether any connection of tenant may want a record of
// topic with the given bus key, so that route can pass over the others
// without decoding them. Logs are keyed by task id (schema.TopicLogs), and
// only their task subscriptions select them; progress and notifications
// may be selected by user, which only the decoded record tells.
func (h *hub) follows(tenant, topic string, key []byte) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	t := h.tenants[tenant]
	if t == nil {
		return false
	}
	switch topic {
	case schema.TopicProgress:
		return t.followsProgress()
	case schema.TopicLogs:
		return len(t.logs[string(key)]) > 0
	case schema.TopicNotifications:
		return t.followsNotifications()
	}
	return false
}

// publish hands p to every connection of its tenant that follows its
// task, its user or everything, once per connection even when several of
// its subscriptions match. The event is encoded only when someone follows
// it.
func (h *hub) publish(p schema.Progress) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	t := h.tenants[p.Tenant]
	if t == nil {
		return nil
	}
	if p.Status == schema.StatusDeleted {
		return t.publishTombstone(p)
	}
	byTask := t.byTask[p.TaskID]
	var byUser clientSet
	if p.UserID != "" {
		byUser = t.byUser[p.UserID]
	}
	if len(byTask)+len(byUser)+len(t.all) == 0 {
		return nil
	}
	ev, err := newEvent(p, h.render)
	if err != nil {
		return err
	}
	for c := range byTask {
		c.deliver(ev)
	}
	for c := range byUser {
		if _, dup := byTask[c]; !dup {
			c.deliver(ev)
		}
	}
	for c := range t.all {
		_, dup1 := byTask[c]
		_, dup2 := byUser[c]
		if !dup1 && !dup2 {
			c.deliver(ev)
		}
	}
	return nil
}

// publishTombstone hands a task's tombstone to every connection of the
// tenant that may hold the task: it names no user, so every user
// subscription is asked, and each connection keeps it only if it was
// given the task (client.queueLive). Deletions are rare, so walking the
// tenant's user subscriptions costs little. h.mu is held for reading.
func (t *tenantIndex) publishTombstone(p schema.Progress) error {
	targets := make(clientSet)
	for c := range t.byTask[p.TaskID] {
		targets[c] = struct{}{}
	}
	for _, set := range t.byUser {
		for c := range set {
			targets[c] = struct{}{}
		}
	}
	for c := range t.all {
		targets[c] = struct{}{}
	}
	if len(targets) == 0 {
		return nil
	}
	// A tombstone has no estimate nor request to show.
	ev, err := newEvent(p, renderer{})
	if err != nil {
		return err
	}
	for c := range targets {
		c.deliver(ev)
	}
	return nil
}
