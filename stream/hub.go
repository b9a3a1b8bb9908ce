package stream

import (
	"sync"

	"github.com/taskpulse/taskpulse/schema"
)

// hub indexes subscriptions by tenant, then by task, user or "all", so that
// routing a record costs a few map lookups plus one delivery per follower,
// however many unrelated connections there are.
//
// Lock order: hub.mu before client.mu. The hub calls client.deliver with
// its read lock held; clients never call the hub with their own lock held.
type hub struct {
	mu      sync.RWMutex
	tenants map[string]*tenantIndex
}

type clientSet map[*client]struct{}

type tenantIndex struct {
	byTask map[string]clientSet
	byUser map[string]clientSet
	all    clientSet
}

func newHub() *hub {
	return &hub{tenants: make(map[string]*tenantIndex)}
}

func (h *hub) add(tenant string, sub Subscription, c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.tenants[tenant]
	if t == nil {
		t = &tenantIndex{byTask: map[string]clientSet{}, byUser: map[string]clientSet{}, all: clientSet{}}
		h.tenants[tenant] = t
	}
	switch {
	case sub.All:
		t.all[c] = struct{}{}
	case sub.TaskID != "":
		addTo(t.byTask, sub.TaskID, c)
	default:
		addTo(t.byUser, sub.UserID, c)
	}
}

func (h *hub) remove(tenant string, sub Subscription, c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.tenants[tenant]
	if t == nil {
		return
	}
	switch {
	case sub.All:
		delete(t.all, c)
	case sub.TaskID != "":
		removeFrom(t.byTask, sub.TaskID, c)
	default:
		removeFrom(t.byUser, sub.UserID, c)
	}
	if len(t.all) == 0 && len(t.byTask) == 0 && len(t.byUser) == 0 {
		delete(h.tenants, tenant)
	}
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

// follows reports whether any connection of tenant has a subscription.
func (h *hub) follows(tenant string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.tenants[tenant] != nil
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
	byTask := t.byTask[p.TaskID]
	var byUser clientSet
	if p.UserID != "" {
		byUser = t.byUser[p.UserID]
	}
	if len(byTask)+len(byUser)+len(t.all) == 0 {
		return nil
	}
	ev, err := newEvent(p)
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
