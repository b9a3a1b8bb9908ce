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
// state of a task, so once the queue is full an older event of a task is
// worth nothing beside a newer one of the same task: push then coalesces
// instead of refusing, and refuses only when the queue is full of
// distinct tasks and other messages.
type queue struct {
	items []message
	// latest maps a task to the position of its newest queued event, so
	// that a full queue coalesces an event in O(1).
	latest map[string]int
	// superseded counts queued events that a later queued event of the
	// same task makes worthless; compacting them away is O(n), so it runs
	// only when it frees something.
	superseded int
}

// push appends m while the queue holds fewer than limit messages. At the
// limit it coalesces: m replaces the queued event of its task, or the
// queue is compacted to the newest event per task; m is refused only when
// the queue would grow past maxItems. It returns how many queued events
// coalescing removed.
func (q *queue) push(m message, limit, maxItems int) (coalesced int, ok bool) {
	if len(q.items) >= limit {
		if q.superseded > 0 {
			coalesced = q.compact(m)
		} else if i, queued := q.position(m); queued {
			q.items[i] = m
			return 1, true
		}
		if len(q.items) >= maxItems {
			return coalesced, false
		}
	}
	q.append(m)
	return coalesced, true
}

func (q *queue) position(m message) (int, bool) {
	if m.ev == nil {
		return 0, false
	}
	i, ok := q.latest[m.ev.p.TaskID]
	return i, ok
}

func (q *queue) append(m message) {
	if m.ev != nil {
		if q.latest == nil {
			q.latest = make(map[string]int)
		}
		if _, ok := q.latest[m.ev.p.TaskID]; ok {
			q.superseded++
		}
		q.latest[m.ev.p.TaskID] = len(q.items)
	}
	q.items = append(q.items, m)
}

// compact removes every queued event that a later event of the same task
// (queued, or the incoming next) supersedes, keeping the order of the rest.
// Dropping an event before a snapshot is safe because the later event of
// that task still comes after the snapshot.
func (q *queue) compact(next message) int {
	newer := make(map[string]struct{}, len(q.latest)+1)
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
	clear(q.latest)
	for i, m := range q.items {
		if m.ev != nil {
			q.latest[m.ev.p.TaskID] = i
		}
	}
	q.superseded = 0
	return j
}

// take empties the queue and returns what it held.
func (q *queue) take() []message {
	items := q.items
	q.items = nil
	clear(q.latest)
	q.superseded = 0
	return items
}

func (q *queue) len() int { return len(q.items) }
