package stream

import (
	"slices"
	"sync"

	"github.com/gofiber/contrib/websocket"

	"github.com/taskpulse/taskpulse/schema"
)

// client is the state of one connection: its subscriptions, what it has
// been sent per task, the logs it missed, and its outgoing queue. The hub
// delivers to it from the bus goroutine; its reader goroutine changes its
// subscriptions; a writer goroutine, started only while there is something
// to write, drains the queue. Everything below mu is guarded by it.
type client struct {
	svc    *Service
	conn   *websocket.Conn
	tenant string
	// pingSlot is the share of the ping interval at which the connection
	// is pinged; set once at register.
	pingSlot uint32

	// readerDone is closed when the reader has returned, which the close
	// frame waits for.
	readerDone chan struct{}
	// writers counts the writer goroutine, so that the connection outlives
	// it.
	writers sync.WaitGroup

	mu sync.Mutex
	// subs are the ready progress subscriptions, at most MaxSubscriptions:
	// a slice costs an idle connection less than a map, and every event is
	// matched against all of them anyway.
	subs []Subscription
	// loading is the subscription whose snapshot is being queried; events
	// it matches wait in held until the snapshot is queued, so none is
	// lost between the query and the first live event.
	loading *Subscription
	held    queue
	out     queue
	// sent holds, per task, the newest state the client has been given;
	// anything not newer is stale.
	sent map[string]sentState
	// logs maps each task whose logs the client follows to the least
	// severe level it wants. It and notifications are made on first use.
	logs map[string]schema.Level
	// logsDropped counts, per task, the logs dropped for a full queue that
	// the client has not yet been told of.
	logsDropped   map[string]int
	notifications map[NotificationSubscription]struct{}
	controls      map[ControlSubscription]struct{}
	// pong is the payload of a ping the writer still has to answer.
	pong *string
	// pingDue asks the writer for a ping.
	pingDue bool
	// writing is set while a writer goroutine runs, and for good once the
	// connection is stopped: nothing is written after the close frame.
	writing   bool
	stopped   bool
	closeCode int
	closeText string
}

type sentState struct {
	key    schema.Order
	userID string
}

func newClient(s *Service, conn *websocket.Conn, tenant string) *client {
	return &client{
		svc:        s,
		conn:       conn,
		tenant:     tenant,
		readerDone: make(chan struct{}),
		sent:       make(map[string]sentState),
	}
}

// subscriptions counts the connection's subscriptions of every kind, which
// Config.MaxSubscriptions caps together. c.mu is held.
func (c *client) subscriptions() int {
	return len(c.subs) + len(c.logs) + len(c.notifications) + len(c.controls)
}

// refused answers a subscribe the connection cannot take, one it has
// already (dup) or one past Config.MaxSubscriptions (full), and reports
// whether it did.
func (c *client) refused(dup, full bool) bool {
	switch {
	case dup:
		c.send(encodeError(&Error{Code: CodeAlreadySubscribed, Message: "the connection already has this subscription"}))
	case full:
		c.send(encodeError(&Error{Code: CodeTooManySubscriptions, Message: "the connection has the maximum number of subscriptions"}))
	default:
		return false
	}
	return true
}

// notSubscribed answers an unsubscribe of what the connection does not
// follow.
func (c *client) notSubscribed(message string) {
	c.send(encodeError(&Error{Code: CodeNotSubscribed, Message: message}))
}

const noSuchSubscription = "the connection has no such subscription"

// subscribeSet adds sub to set, the connection's subscriptions of one
// kind (notifications, control requests). The hub learns of it (index)
// before the confirmation is queued, so nothing after the confirmation
// is missed; then, when given, runs after it with c.mu held.
func subscribeSet[S comparable](c *client, set *map[S]struct{}, sub S, index func(), confirmed subscribedMessage, then func()) {
	c.mu.Lock()
	_, dup := (*set)[sub]
	full := c.subscriptions() >= c.svc.cfg.MaxSubscriptions
	c.mu.Unlock()
	if c.refused(dup, full) {
		return
	}
	index()
	c.svc.metrics.subscriptions.Inc()
	c.mu.Lock()
	defer c.mu.Unlock()
	if *set == nil {
		*set = make(map[S]struct{})
	}
	(*set)[sub] = struct{}{}
	if c.stopped {
		return
	}
	confirmed.Type = TypeSubscribed
	c.queue(message{frame: mustEncode(confirmed)})
	if then != nil {
		then()
	}
}

// queueIfWanted queues frame if a subscription in set still matches it.
func queueIfWanted[S comparable](c *client, set *map[S]struct{}, matches func(S) bool, frame []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	for sub := range *set {
		if matches(sub) {
			c.queue(message{frame: frame})
			return
		}
	}
}

// unsubscribeSet removes sub from set, confirming it, and then from the
// hub (unindex).
func unsubscribeSet[S comparable](c *client, set *map[S]struct{}, sub S, unindex func(), confirmed unsubscribedMessage) {
	c.mu.Lock()
	_, ok := (*set)[sub]
	if ok {
		delete(*set, sub)
		if !c.stopped {
			confirmed.Type = TypeUnsubscribed
			c.queue(message{frame: mustEncode(confirmed)})
		}
	}
	c.mu.Unlock()
	if !ok {
		c.notSubscribed(noSuchSubscription)
		return
	}
	unindex()
	c.svc.metrics.subscriptions.Dec()
}

// apply acts on a valid client message. It runs on the reader goroutine,
// so subscriptions change one at a time.
func (c *client) apply(m clientMessage) {
	subscribe := m.Type == TypeSubscribe
	switch {
	case m.Logs != nil && subscribe:
		c.subscribeLogs(*m.Logs)
	case m.Logs != nil:
		c.unsubscribeLogs(*m.Logs)
	case m.Notifications != nil && subscribe:
		c.subscribeNotifications(*m.Notifications)
	case m.Notifications != nil:
		c.unsubscribeNotifications(*m.Notifications)
	case m.Control != nil && subscribe:
		c.subscribeControl(*m.Control)
	case m.Control != nil:
		c.unsubscribeControl(*m.Control)
	case subscribe:
		c.subscribe(m.Subscription)
	default:
		c.unsubscribe(m.Subscription)
	}
}

// deliver takes a live event the hub routed here. It never blocks: the
// bus goroutine serves every connection.
func (c *client) deliver(ev *event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	if c.loading != nil && c.loading.matches(&ev.p) {
		coalesced, ok := c.held.push(message{ev: ev}, c.svc.cfg.QueueSize, c.svc.cfg.MaxQueuedTasks)
		c.svc.metrics.drop(reasonCoalesced, coalesced)
		if !ok {
			c.endSlow()
		}
		return
	}
	c.queueLive(ev)
}

// queueLive queues ev if a ready subscription still wants it and it is
// newer than what the client has of its task. c.mu is held.
//
// A tombstone (status "deleted") is queued only for a task the client was
// given, whose row it must drop. Its key then stands for the task, with
// the user it had, so that events from before the deletion are stale
// here as they are in the store, while a newer event, a new task, passes.
func (c *client) queueLive(ev *event) {
	if !c.wants(ev) {
		return
	}
	s, seen := c.sent[ev.p.TaskID]
	if seen && !ev.key.After(s.key) {
		c.svc.metrics.drop(reasonStale, 1)
		return
	}
	userID := ev.p.UserID
	if ev.p.Status == schema.StatusDeleted {
		if !seen {
			return
		}
		userID = s.userID
	}
	c.sent[ev.p.TaskID] = sentState{key: ev.key, userID: userID}
	c.queue(message{ev: ev})
}

func (c *client) wants(ev *event) bool {
	for _, sub := range c.subs {
		if sub.matches(&ev.p) {
			return true
		}
	}
	return false
}

// queue adds m to the outgoing queue and wakes the writer. c.mu is held.
func (c *client) queue(m message) {
	coalesced, ok := c.out.push(m, c.svc.cfg.QueueSize, c.svc.cfg.MaxQueuedTasks)
	c.svc.metrics.drop(reasonCoalesced, coalesced)
	if !ok {
		c.endSlow()
		return
	}
	c.startWriter()
}

// send queues an encoded message other than progress and logs.
func (c *client) send(frame []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped {
		c.queue(message{frame: frame})
	}
}

// endSlow closes a connection that cannot keep up; the client reconnects
// and catches up from fresh snapshots. c.mu is held.
func (c *client) endSlow() {
	c.svc.metrics.drop(reasonSlowConsumer, c.out.len()+c.held.len()+1)
	c.out.take()
	c.held.take()
	c.endLocked(CloseSlowConsumer, "too slow: reconnect for a fresh snapshot")
}

// end asks the writer to close the connection with code and text, unless
// it is already closing.
func (c *client) end(code int, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLocked(code, text)
}

func (c *client) endLocked(code int, text string) {
	if c.stopped {
		return
	}
	c.stopped = true
	c.closeCode, c.closeText = code, text
	c.startWriter()
}

// subscribe registers sub, sends its snapshot, then lets its live events
// through. It runs on the reader goroutine, so subscriptions change one at
// a time.
func (c *client) subscribe(sub Subscription) {
	c.mu.Lock()
	dup := slices.Contains(c.subs, sub)
	full := c.subscriptions() >= c.svc.cfg.MaxSubscriptions
	if !dup && !full {
		c.loading = &sub
	}
	c.mu.Unlock()
	if c.refused(dup, full) {
		return
	}

	// The hub knows the subscription before the store is asked, so every
	// event the snapshot might miss is held rather than lost.
	c.svc.hub.add(c.tenant, sub, c)
	// Only the reader waits here, so nothing but the service's end can
	// cut the wait short; the round itself is bounded.
	snap, err := c.svc.snaps.read(c.svc.ctx, c.tenant, sub)

	c.mu.Lock()
	c.loading = nil
	held := c.held.take()
	if err == nil {
		c.subs = append(c.subs, sub)
		for i := range snap.tasks {
			t := &snap.tasks[i]
			if s, ok := c.sent[t.TaskID]; !ok || t.Order().After(s.key) {
				c.sent[t.TaskID] = sentState{key: t.Order(), userID: t.UserID}
			}
		}
		if !c.stopped {
			c.queue(message{frame: snap.frame})
		}
	}
	// Held events go through the same checks as live ones: without the
	// subscription they are unwanted, and those not newer than the
	// snapshot are stale.
	for _, m := range held {
		if !c.stopped {
			c.queueLive(m.ev)
		}
	}
	c.mu.Unlock()

	if err != nil {
		c.svc.hub.remove(c.tenant, sub, c)
		c.send(encodeError(&Error{Code: CodeSnapshotFailed, Message: "the current state could not be read; subscribe again"}))
		return
	}
	c.svc.metrics.subscriptions.Inc()
}

// unsubscribe removes sub and forgets the tasks no remaining subscription
// covers, so a later subscription starts again from its snapshot.
func (c *client) unsubscribe(sub Subscription) {
	c.mu.Lock()
	i := slices.Index(c.subs, sub)
	ok := i >= 0
	if ok {
		c.subs = slices.Delete(c.subs, i, i+1)
		for id, s := range c.sent {
			if !c.covers(id, s.userID) {
				delete(c.sent, id)
			}
		}
		if !c.stopped {
			c.queue(message{frame: mustEncode(unsubscribedMessage{Type: TypeUnsubscribed, Subscription: &sub})})
		}
	}
	c.mu.Unlock()
	if !ok {
		c.notSubscribed(noSuchSubscription)
		return
	}
	c.svc.hub.remove(c.tenant, sub, c)
	c.svc.metrics.subscriptions.Dec()
}

func (c *client) covers(taskID, userID string) bool {
	for _, sub := range c.subs {
		if sub.covers(taskID, userID) {
			return true
		}
	}
	return false
}

// dropSubscriptions removes every subscription from the hub when the
// connection ends.
func (c *client) dropSubscriptions() {
	c.mu.Lock()
	subs, logs, notifications, controls := c.subs, c.logs, c.notifications, c.controls
	c.subs, c.logs, c.notifications, c.controls = nil, nil, nil, nil
	c.mu.Unlock()
	for _, sub := range subs {
		c.svc.hub.remove(c.tenant, sub, c)
	}
	for taskID := range logs {
		c.svc.hub.removeLogs(c.tenant, taskID, c)
	}
	for sub := range notifications {
		c.svc.hub.removeNotifications(c.tenant, sub, c)
	}
	for sub := range controls {
		c.svc.hub.editControl(c.tenant, sub, c, removeFrom)
	}
	c.svc.metrics.subscriptions.Sub(float64(len(subs) + len(logs) + len(notifications) + len(controls)))
}

// answerPing has the writer send a pong, keeping all writes on one
// goroutine.
func (c *client) answerPing(data string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pong = &data
	c.startWriter()
}

// ping has the writer ping the peer, which answers with a pong that
// extends its read deadline.
func (c *client) ping() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pingDue = true
	c.startWriter()
}
