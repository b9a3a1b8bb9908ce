package client

import "sync"

// signal is one kind of event, sent to its own route.
type signal int

const (
	signalProgress signal = iota
	signalLogs
	signalMetrics
	numSignals
)

var routes = [numSignals]string{"/v1/progress", "/v1/logs", "/v1/metrics"}

// entry is one queued event, encoded when it was queued.
type entry struct {
	json   []byte
	taskID string
}

// Stats says what became of the events handed to a client so far.
type Stats struct {
	Queued   uint64 // waiting to be sent, or being sent
	Sent     uint64 // acknowledged: durable on the server
	Dropped  uint64 // refused because the queue was full
	Rejected uint64 // refused by the server as invalid
	Unsent   uint64 // still unsent when the client closed
	Retries  uint64 // requests sent again after a failure, a 429 or a 5xx
}

// queue holds the events waiting to be sent, per signal, and counts what
// became of every event.
type queue struct {
	mu      sync.Mutex
	max     int
	pending [numSignals][]entry
	turn    signal // the signal next takes first
	size    int
	added   uint64
	stats   Stats
	// settled is closed, and replaced, whenever events are settled, so
	// that Flush can wait for it with a context.
	settled chan struct{}
}

func newQueue(max int) *queue {
	return &queue{max: max, settled: make(chan struct{})}
}

// put queues e unless the queue is full and e is not final. It returns
// whether e was taken and how many events wait now.
func (q *queue) put(s signal, e entry, final bool) (bool, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.size >= q.max && !final {
		q.stats.Dropped++
		return false, q.size
	}
	q.pending[s] = append(q.pending[s], e)
	q.size++
	q.added++
	return true, q.size
}

// next takes the next batch of at most maxBatch events, the signals
// taking turns, and says whether events are left; nil when none wait.
func (q *queue) next(maxBatch int) (*delivery, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for range numSignals {
		s := q.turn
		q.turn = (q.turn + 1) % numSignals
		if p := q.pending[s]; len(p) > 0 {
			n := min(maxBatch, len(p))
			q.pending[s] = p[n:]
			q.size -= n
			return &delivery{signal: s, entries: p[:n:n]}, q.size > 0
		}
	}
	return nil, false
}

// settle counts events as sent, rejected or unsent.
func (q *queue) settle(sent, rejected, unsent int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stats.Sent += uint64(sent)
	q.stats.Rejected += uint64(rejected)
	q.stats.Unsent += uint64(unsent)
	close(q.settled)
	q.settled = make(chan struct{})
}

// refuse counts an event refused before it was queued, such as one
// that cannot be encoded.
func (q *queue) refuse() {
	q.mu.Lock()
	q.added++
	q.mu.Unlock()
	q.settle(0, 1, 0)
}

// giveUp counts every pending event as unsent and forgets it.
func (q *queue) giveUp() int {
	n := 0
	for d, _ := q.next(q.max + 1); d != nil; d, _ = q.next(q.max + 1) {
		n += len(d.entries)
	}
	q.settle(0, 0, n)
	return n
}

func (q *queue) retried() {
	q.mu.Lock()
	q.stats.Retries++
	q.mu.Unlock()
}

// progress returns how many events were ever queued and settled, and a
// channel closed at the next settlement.
func (q *queue) progress() (added, settled uint64, next <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.added, q.settledLocked(), q.settled
}

func (q *queue) settledLocked() uint64 {
	return q.stats.Sent + q.stats.Rejected + q.stats.Unsent
}

func (q *queue) snapshot() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	s.Queued = q.added - q.settledLocked()
	return s
}
