package stream

import (
	"fmt"

	"github.com/taskpulse/taskpulse/schema"
)

// NotificationSubscription selects the notifications a connection is
// pushed: exactly one of its fields is set. An API key names a tenant, not
// a person, so a connection says whose notifications it shows.
type NotificationSubscription struct {
	UserID string `json:"user_id,omitempty"`
	All    bool   `json:"all,omitempty"`
}

func (s NotificationSubscription) validate() error {
	switch {
	case (s.UserID != "") == s.All:
		return &Error{Code: CodeInvalidMessage, Message: "notifications names exactly one of user_id or all:true"}
	case len(s.UserID) > schema.MaxIDLen:
		return &Error{Code: CodeInvalidMessage, Message: fmt.Sprintf("user_id is at most %d bytes", schema.MaxIDLen)}
	}
	return nil
}

func (s NotificationSubscription) matches(n *schema.Notification) bool {
	return s.All || (s.UserID != "" && s.UserID == n.UserID)
}

type notificationMessage struct {
	Type         string               `json:"type"`
	Notification *schema.Notification `json:"notification"`
}

// notificationEvent is one notification on its way to the connections that
// follow its user or their whole tenant, encoded once for all of them.
type notificationEvent struct {
	n     schema.Notification
	frame []byte
}

// recentNotifications bounds the ids remembered to recognise a notification
// delivered again: the bus delivers at least once, and a redelivery comes
// soon after the original.
const recentNotifications = 4096

// routeNotification pushes n unless it was pushed lately. Remembering ids
// once for the whole instance, rather than per connection, sends a
// notification at most once to every connection at a fraction of the
// memory. Only the bus goroutine calls it.
func (s *Service) routeNotification(n schema.Notification) {
	if !s.recent.add(n.Tenant + "\x00" + n.ID) {
		s.metrics.drop(reasonDuplicate, 1)
		return
	}
	s.hub.publishNotification(n)
}

// publishNotification hands n to every connection of its tenant that
// follows its user or all notifications, once per connection even when
// both match.
func (h *hub) publishNotification(n schema.Notification) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	t := h.tenants[n.Tenant]
	if t == nil {
		return
	}
	var byUser clientSet
	if n.UserID != "" {
		byUser = t.notifyUser[n.UserID]
	}
	if len(byUser)+len(t.notifyAll) == 0 {
		return
	}
	ev := &notificationEvent{n: n}
	out := n
	out.Tenant = "" // the connection's own, and not part of the protocol
	ev.frame = mustEncode(notificationMessage{Type: TypeNotification, Notification: &out})
	for c := range byUser {
		c.deliverNotification(ev)
	}
	for c := range t.notifyAll {
		if _, dup := byUser[c]; !dup {
			c.deliverNotification(ev)
		}
	}
}

// deliverNotification queues ev if a subscription still wants it: the hub
// may route to a connection that has just unsubscribed.
func (c *client) deliverNotification(ev *notificationEvent) {
	queueIfWanted(c, &c.notifications, func(sub NotificationSubscription) bool { return sub.matches(&ev.n) }, ev.frame)
}

// subscribeNotifications follows a user's notifications, or the tenant's.
// The hub learns of it before the client does, so every notification
// after the confirmation reaches the client.
func (c *client) subscribeNotifications(sub NotificationSubscription) {
	subscribeSet(c, &c.notifications, sub, func() { c.svc.hub.addNotifications(c.tenant, sub, c) },
		subscribedMessage{Notifications: &sub}, nil)
}

func (c *client) unsubscribeNotifications(sub NotificationSubscription) {
	unsubscribeSet(c, &c.notifications, sub, func() { c.svc.hub.removeNotifications(c.tenant, sub, c) },
		unsubscribedMessage{Notifications: &sub})
}
