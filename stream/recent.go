package stream

// recentIDs remembers the last ids it was given, so that a record
// delivered again is recognised while its first delivery is recent. It is
// not safe for concurrent use.
type recentIDs struct {
	ring []string
	next int
	set  map[string]struct{}
}

func newRecentIDs(n int) *recentIDs {
	return &recentIDs{ring: make([]string, n), set: make(map[string]struct{}, n)}
}

// add remembers id, which must not be empty (an empty slot of the ring is
// ""), forgetting the oldest one when full, and reports whether id was new.
func (r *recentIDs) add(id string) bool {
	if _, ok := r.set[id]; ok {
		return false
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = id
	r.next = (r.next + 1) % len(r.ring)
	r.set[id] = struct{}{}
	return true
}
