package stream

// message is one frame waiting to be written: a progress event, or any
// other server message already encoded.
type message struct {
	ev    *event
	frame []byte
}

func (m message) bytes() []byte {
	if m.ev != nil {
		return m.ev.frame
	}
	return m.frame
}

// queue is a bounded FIFO of messages for one connection. Progress is the
// state of a task, so when the queue is full an older event of a task is
// worth nothing once a newer one of the same task is queued: push then
// coalesces instead of refusing.
type queue struct {
	items []message
}

// push appends m unless the queue holds limit messages even after
// coalescing. It returns how many queued events coalescing removed.
func (q *queue) push(m message, limit int) (coalesced int, ok bool) {
	if len(q.items) >= limit {
		coalesced = q.coalesce(m)
		if len(q.items) >= limit {
			return coalesced, false
		}
	}
	q.items = append(q.items, m)
	return coalesced, true
}

// coalesce removes every queued event that a later event of the same task
// (queued, or the incoming next) supersedes, keeping the order of the rest.
// Dropping an event before a snapshot is safe because the later event of
// that task still comes after the snapshot.
func (q *queue) coalesce(next message) int {
	newer := make(map[string]struct{}, len(q.items)+1)
	if next.ev != nil {
		newer[next.ev.p.TaskID] = struct{}{}
	}
	j := len(q.items)
	for i := len(q.items) - 1; i >= 0; i-- {
		m := q.items[i]
		if m.ev != nil {
			if _, ok := newer[m.ev.p.TaskID]; ok {
				continue
			}
			newer[m.ev.p.TaskID] = struct{}{}
		}
		j--
		q.items[j] = m
	}
	clear(q.items[:j])
	q.items = q.items[j:]
	return j
}

// take empties the queue and returns what it held.
func (q *queue) take() []message {
	items := q.items
	q.items = nil
	return items
}

func (q *queue) len() int { return len(q.items) }
