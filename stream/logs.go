package stream

import (
	"fmt"
	"strings"

	"github.com/taskpulse/taskpulse/schema"
)

// LogSubscription selects the live logs of one task at or above a level.
// Logs have no snapshot: their history is a search (GET
// /v1/tasks/{id}/logs), not a current state.
type LogSubscription struct {
	TaskID string `json:"task_id"`
	// MinLevel is the least severe level sent; empty means DEBUG.
	MinLevel schema.Level `json:"min_level,omitempty"`
}

// normalize checks s and spells its level as the server echoes it.
func (s *LogSubscription) normalize() error {
	level, ok := parseMinLevel(string(s.MinLevel))
	switch {
	case s.TaskID == "" || len(s.TaskID) > schema.MaxIDLen:
		return &Error{Code: CodeInvalidMessage, Message: fmt.Sprintf("logs names a task_id of at most %d bytes", schema.MaxIDLen)}
	case !ok:
		return &Error{Code: CodeInvalidMessage, Message: "min_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"}
	}
	s.MinLevel = level
	return nil
}

// parseMinLevel reads a level in any case, as the log search API does,
// and DEBUG when none is given; it reports whether the level is known.
func parseMinLevel(s string) (schema.Level, bool) {
	if s == "" {
		return schema.LevelDebug, true
	}
	level := schema.Level(strings.ToUpper(s))
	return level, level.Valid()
}

type logMessage struct {
	Type string      `json:"type"`
	Log  *schema.Log `json:"log"`
}

type logsDroppedMessage struct {
	Type   string `json:"type"`
	TaskID string `json:"task_id"`
	Count  int    `json:"count"`
}

// logEvent is one log record on its way to the connections that follow its
// task. It is encoded on first need, as a record below every follower's
// level costs no encoding; only the bus goroutine touches it.
type logEvent struct {
	l     schema.Log
	frame []byte
}

func (ev *logEvent) encoded() []byte {
	if ev.frame == nil {
		// The tenant is the connection's own and is not part of the
		// protocol.
		out := ev.l
		out.Tenant = ""
		ev.frame = mustEncode(logMessage{Type: TypeLog, Log: &out})
	}
	return ev.frame
}

// publishLog hands l to every connection of its tenant that follows the
// logs of its task.
func (h *hub) publishLog(l schema.Log) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	t := h.tenants[l.Tenant]
	if t == nil || l.TaskID == "" {
		return
	}
	ev := &logEvent{l: l}
	for c := range t.logs[l.TaskID] {
		c.deliverLog(ev)
	}
}

// subscribeLogs follows a task's logs, or changes the level of a task
// already followed. The hub learns of it before the client does, so every
// log after the confirmation reaches the client.
func (c *client) subscribeLogs(sub LogSubscription) {
	c.mu.Lock()
	_, again := c.logs[sub.TaskID]
	full := !again && c.subscriptions() >= c.svc.cfg.MaxSubscriptions
	c.mu.Unlock()
	if c.refused(false, full) {
		return
	}
	if !again {
		c.svc.hub.addLogs(c.tenant, sub.TaskID, c)
		c.svc.metrics.subscriptions.Inc()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.logs == nil {
		c.logs = make(map[string]schema.Level)
	}
	c.logs[sub.TaskID] = sub.MinLevel
	if !c.stopped {
		c.queue(message{frame: mustEncode(subscribedMessage{Type: TypeSubscribed, Logs: &sub})})
	}
}

// unsubscribeLogs stops a task's logs, and with them any notice of logs
// dropped for it: nothing after the answer is about that task's logs.
func (c *client) unsubscribeLogs(sub LogSubscription) {
	c.mu.Lock()
	_, ok := c.logs[sub.TaskID]
	if ok {
		delete(c.logs, sub.TaskID)
		delete(c.logsDropped, sub.TaskID)
		if !c.stopped {
			c.queue(message{frame: mustEncode(unsubscribedMessage{Type: TypeUnsubscribed, Logs: &LogSubscription{TaskID: sub.TaskID}})})
		}
	}
	c.mu.Unlock()
	if !ok {
		c.notSubscribed("the connection does not follow this task's logs")
		return
	}
	c.svc.hub.removeLogs(c.tenant, sub.TaskID, c)
	c.svc.metrics.subscriptions.Dec()
}

// deliverLog queues a log the connection wants. Logs are not a state that
// a newer one replaces, so a full queue drops them instead of coalescing
// them; the client is told how many, per task, at the place of the gap:
// before the task's next log, or once the writer has caught up.
func (c *client) deliverLog(ev *logEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	least, ok := c.logs[ev.l.TaskID]
	if c.stopped || !ok || ev.l.Level.Rank() < least.Rank() {
		return
	}
	dropped := c.logsDropped[ev.l.TaskID]
	need := 1
	if dropped > 0 {
		need = 2
	}
	if c.out.len()+need > c.svc.cfg.QueueSize {
		if c.logsDropped == nil {
			c.logsDropped = make(map[string]int)
		}
		c.logsDropped[ev.l.TaskID]++
		c.svc.metrics.drop(reasonLogsDropped, 1)
		return
	}
	if dropped > 0 {
		delete(c.logsDropped, ev.l.TaskID)
		c.queue(logsDroppedFrame(ev.l.TaskID, dropped))
	}
	c.queue(message{frame: ev.encoded()})
}

// appendLogsDropped adds a notice for every task whose logs were dropped to
// batch, the backlog the writer is taking, and forgets them. c.mu is held.
func (c *client) appendLogsDropped(batch []message) []message {
	for taskID, n := range c.logsDropped {
		batch = append(batch, logsDroppedFrame(taskID, n))
	}
	clear(c.logsDropped)
	return batch
}

func logsDroppedFrame(taskID string, n int) message {
	return message{frame: mustEncode(logsDroppedMessage{Type: TypeLogsDropped, TaskID: taskID, Count: n})}
}
