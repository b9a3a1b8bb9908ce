package stream

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

// Messages are written as "task:label" for progress and "!label" for
// other messages.
func TestQueueCoalesces(t *testing.T) {
	parse := func(s string) message {
		if label, ok := strings.CutPrefix(s, "!"); ok {
			return message{frame: []byte(label)}
		}
		id, label, _ := strings.Cut(s, ":")
		return message{ev: &event{p: schema.Progress{TaskID: id}, frame: []byte(id + ":" + label)}}
	}
	f := func(limit, maxItems int, pushes string, want string, wantCoalesced int, wantOK bool) {
		t.Helper()
		var q queue
		coalesced, ok := 0, true
		for _, s := range strings.Fields(pushes) {
			var n int
			n, ok = q.push(parse(s), limit, maxItems)
			coalesced += n
		}
		var got []string
		for _, m := range q.take() {
			got = append(got, string(m.bytes()))
		}
		require.Equal(t, want, strings.Join(got, " "))
		require.Equal(t, wantCoalesced, coalesced)
		require.Equal(t, wantOK, ok)
	}
	// Below the limit nothing is coalesced.
	f(4, 4, "a:1 a:2 a:3", "a:1 a:2 a:3", 0, true)
	// At the limit, older events of a task give way to newer ones.
	f(3, 3, "a:1 a:2 a:3 a:4", "a:4", 3, true)
	f(3, 3, "a:1 b:1 a:2 b:2", "a:2 b:2", 2, true)
	// Other messages are kept, in order.
	f(3, 3, "a:1 !snap a:2 a:3", "snap a:3", 2, true)
	// Once compacted, a newer event takes its task's place in the queue.
	f(2, 8, "a:1 b:1 a:2 b:2 a:3", "a:3 b:2", 3, true)
	// Past the limit, distinct tasks still fit up to maxItems.
	f(2, 4, "a:1 b:1 c:1 d:1", "a:1 b:1 c:1 d:1", 0, true)
	// A queue full of distinct tasks cannot take another.
	f(2, 2, "a:1 b:1 c:1", "a:1 b:1", 0, false)
	f(2, 3, "!x !y !z !w", "x y z", 0, false)
}
