package bustest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/bus"
)

// Run checks that the buses returned by open keep the bus.Bus contract.
// open returns a new, open bus; Run closes it when each scenario ends.
func Run(t *testing.T, open func(t testing.TB) bus.Bus) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, b bus.Bus)
	}{
		{"RoundTrip", roundTrip},
		{"PublishKeepsNoMemory", publishKeepsNoMemory},
		{"KeyOrder", keyOrder},
		{"NewGroupStartsAtOldest", newGroupStartsAtOldest},
		{"HandlerErrorLeavesBatchUncommitted", handlerErrorLeavesBatchUncommitted},
		{"CommittedBatchNotRedelivered", committedBatchNotRedelivered},
		{"MaxBatch", maxBatch},
		{"MaxWaitFlushesPartialBatch", maxWaitFlushesPartialBatch},
		{"TwoGroupsSeeEveryRecord", twoGroupsSeeEveryRecord},
		{"TwoSubscribersSeeEveryRecord", twoSubscribersSeeEveryRecord},
		{"GroupMembersShareAndTakeOver", groupMembersShareAndTakeOver},
		{"ClosedBus", closedBus},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			s.run(t, openBus(t, open))
		})
	}
}

func roundTrip(t *testing.T, b bus.Bus) {
	topic := randomName("bt-")
	want := []bus.Record{
		{Topic: topic, Key: []byte("task-1"), Value: []byte(`{"progress":10}`), Headers: map[string]string{"traceparent": "00-abc-def-01", "tenant": "t1"}},
		{Topic: topic, Key: []byte("task-2"), Value: []byte(`{"progress":20}`)},
		{Topic: topic, Key: []byte("task-1"), Value: []byte(`{"progress":30}`), Headers: map[string]string{"empty": ""}},
	}
	publish(t, b, want...)

	var s sink
	consume(t, b, randomName("bt-g-"), []string{topic}, quick, s.handle)
	waitLen(t, &s, len(want))

	got := s.records()
	require.Len(t, got, len(want))
	byValue := map[string]bus.Record{}
	for _, r := range got {
		byValue[string(r.Value)] = r
	}
	for _, w := range want {
		g, ok := byValue[string(w.Value)]
		require.True(t, ok, "record %s not delivered", w.Value)
		require.Equal(t, topic, g.Topic)
		require.Equal(t, w.Key, g.Key)
		if len(w.Headers) == 0 {
			require.Empty(t, g.Headers)
		} else {
			require.Equal(t, w.Headers, g.Headers)
		}
	}
	last := map[int]int64{}
	for _, r := range got {
		if prev, ok := last[r.Partition]; ok {
			require.Greater(t, r.Offset, prev, "offsets must grow within a partition")
		}
		last[r.Partition] = r.Offset
	}
	require.Equal(t, []string{`{"progress":10}`, `{"progress":30}`}, valuesOfKey(got, "task-1"))
}

// publishKeepsNoMemory overwrites the keys, values and headers of
// published records as soon as Publish returns, as ingest does when it
// reuses its buffers; consumers and subscribers must still see what was
// published.
func publishKeepsNoMemory(t *testing.T, b bus.Bus) {
	topic := randomName("bt-")
	var sub sink
	subscribe(t, b, []string{topic}, sub.handle)
	const marker = "ready"
	require.Eventually(t, func() bool {
		return b.Publish(context.Background(), records(topic, "k", marker)...) == nil && sub.has(marker)
	}, wait, 20*time.Millisecond)

	const n = 50
	mem := make([]byte, 0, n*16)
	recs := make([]bus.Record, n)
	for i := range recs {
		start := len(mem)
		mem = fmt.Appendf(mem, "key-%02d", i%5)
		key := mem[start:len(mem):len(mem)]
		start = len(mem)
		mem = fmt.Appendf(mem, "value-%02d", i)
		recs[i] = bus.Record{Topic: topic, Key: key, Value: mem[start:len(mem):len(mem)], Headers: map[string]string{"n": strconv.Itoa(i)}}
	}
	publish(t, b, recs...)
	for i := range mem {
		mem[i] = 'x'
	}
	for i := range recs {
		recs[i].Headers["n"] = "overwritten"
	}

	var group sink
	consume(t, b, randomName("bt-g-"), []string{topic}, quick, group.handle)
	for _, s := range []*sink{&group, &sub} {
		require.Eventually(t, func() bool { return len(without(s.values(), marker)) >= n }, wait, tick)
	}
	for _, got := range [][]bus.Record{group.records(), sub.records()} {
		seen := 0
		for _, r := range got {
			if string(r.Value) == marker {
				continue
			}
			var i int
			_, err := fmt.Sscanf(string(r.Value), "value-%02d", &i)
			require.NoError(t, err, "value %q", r.Value)
			require.Equal(t, fmt.Sprintf("key-%02d", i%5), string(r.Key))
			require.Equal(t, strconv.Itoa(i), r.Headers["n"])
			seen++
		}
		require.Equal(t, n, seen)
	}
}

// keyOrder has concurrent publishers each interleave several keys across
// many Publish calls of different sizes; every key's records must arrive
// in publish order.
func keyOrder(t *testing.T, b bus.Bus) {
	const publishers, keys, perKey = 4, 5, 30
	topic := randomName("bt-")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for p := range publishers {
		wg.Go(func() {
			for i := range perKey {
				var recs []bus.Record
				for k := range keys {
					recs = append(recs, records(topic, fmt.Sprintf("p%d-k%d", p, k), strconv.Itoa(i))...)
				}
				// Alternate one call for all keys with one call per record.
				calls := [][]bus.Record{recs}
				if i%2 == 1 {
					calls = calls[:0]
					for j := range recs {
						calls = append(calls, recs[j:j+1])
					}
				}
				for _, c := range calls {
					if err := b.Publish(ctx, c...); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	var s sink
	consume(t, b, randomName("bt-g-"), []string{topic}, quick, s.handle)
	waitLen(t, &s, publishers*keys*perKey)

	got := s.records()
	require.Len(t, got, publishers*keys*perKey)
	want := make([]string, perKey)
	for i := range want {
		want[i] = strconv.Itoa(i)
	}
	for p := range publishers {
		for k := range keys {
			key := fmt.Sprintf("p%d-k%d", p, k)
			require.Equal(t, want, valuesOfKey(got, key), "order of key %s", key)
		}
	}
}

func newGroupStartsAtOldest(t *testing.T, b bus.Bus) {
	topic := randomName("bt-")
	want := []string{"0", "1", "2", "3", "4"}
	publish(t, b, records(topic, "k", want...)...)

	var first sink
	consume(t, b, randomName("bt-g-"), []string{topic}, quick, first.handle)
	waitLen(t, &first, len(want))
	require.Equal(t, want, first.values())

	// A group created after another one has consumed everything still
	// starts at the oldest record, not at the other group's position.
	var second sink
	consume(t, b, randomName("bt-g-"), []string{topic}, quick, second.handle)
	waitLen(t, &second, len(want))
	require.Equal(t, want, second.values())
}

func handlerErrorLeavesBatchUncommitted(t *testing.T, b bus.Bus) {
	topic, group := randomName("bt-"), randomName("bt-g-")
	want := []string{"0", "1", "2", "3", "4"}
	publish(t, b, records(topic, "k", want...)...)

	errHandler := errors.New("handler failed")
	var failed []string
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err := b.Consume(ctx, group, []string{topic}, quick, func(_ context.Context, batch []bus.Record) error {
		for _, r := range batch {
			failed = append(failed, string(r.Value))
		}
		return errHandler
	})
	require.ErrorIs(t, err, errHandler)
	require.NotEmpty(t, failed)

	var s sink
	consume(t, b, group, []string{topic}, quick, s.handle)
	waitLen(t, &s, len(want))
	require.Equal(t, want, s.values())
	require.Equal(t, failed, s.values()[:len(failed)], "the failed batch comes again")
}

func committedBatchNotRedelivered(t *testing.T, b bus.Bus) {
	topic, group := randomName("bt-"), randomName("bt-g-")
	publish(t, b, records(topic, "k", "a0", "a1", "a2", "a3", "a4")...)

	var s1 sink
	stop := consume(t, b, group, []string{topic}, quick, s1.handle)
	waitLen(t, &s1, 5)
	require.NoError(t, stop())

	after := []string{"b0", "b1", "b2", "b3", "b4"}
	publish(t, b, records(topic, "k", after...)...)
	var s2 sink
	consume(t, b, group, []string{topic}, quick, s2.handle)
	waitLen(t, &s2, len(after))
	require.Equal(t, after, s2.values())
}

func maxBatch(t *testing.T, b bus.Bus) {
	topic := randomName("bt-")
	const n, limit = 25, 7
	values := make([]string, n)
	for i := range values {
		values[i] = strconv.Itoa(i)
	}
	publish(t, b, records(topic, "k", values...)...)

	var s sink
	consume(t, b, randomName("bt-g-"), []string{topic}, bus.ConsumeOptions{MaxBatch: limit, MaxWait: 200 * time.Millisecond}, s.handle)
	waitLen(t, &s, n)
	require.Equal(t, values, s.values())
	for _, size := range s.batchSizes() {
		require.LessOrEqual(t, size, limit)
	}
}

func maxWaitFlushesPartialBatch(t *testing.T, b bus.Bus) {
	topic := randomName("bt-")
	var s sink
	consume(t, b, randomName("bt-g-"), []string{topic}, bus.ConsumeOptions{MaxBatch: 1000, MaxWait: 50 * time.Millisecond}, s.handle)
	publish(t, b, records(topic, "k", "0", "1", "2")...)
	waitLen(t, &s, 3)
	require.Equal(t, []string{"0", "1", "2"}, s.values())
}

func twoGroupsSeeEveryRecord(t *testing.T, b bus.Bus) {
	topic := randomName("bt-")
	want := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	publish(t, b, records(topic, "k", want[:5]...)...)
	var g1, g2 sink
	consume(t, b, randomName("bt-g-"), []string{topic}, quick, g1.handle)
	consume(t, b, randomName("bt-g-"), []string{topic}, quick, g2.handle)
	publish(t, b, records(topic, "k", want[5:]...)...)
	waitLen(t, &g1, len(want))
	waitLen(t, &g2, len(want))
	require.Equal(t, want, g1.values())
	require.Equal(t, want, g2.values())
}

func twoSubscribersSeeEveryRecord(t *testing.T, b bus.Bus) {
	topic := randomName("bt-")
	var s1, s2 sink
	subscribe(t, b, []string{topic}, s1.handle)
	subscribe(t, b, []string{topic}, s2.handle)

	// A subscriber starts at the end of the topic, so wait until both are
	// positioned: publish a marker until each of them has seen one.
	const marker = "ready"
	require.Eventually(t, func() bool {
		if err := b.Publish(context.Background(), records(topic, "k", marker)...); err != nil {
			return false
		}
		return s1.has(marker) && s2.has(marker)
	}, wait, 20*time.Millisecond)

	want := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	publish(t, b, records(topic, "k", want[:3]...)...)
	for _, v := range want[3:] {
		publish(t, b, records(topic, "k", v)...)
	}
	for _, s := range []*sink{&s1, &s2} {
		require.Eventually(t, func() bool { return len(without(s.values(), marker)) >= len(want) }, wait, tick)
		require.Equal(t, want, without(s.values(), marker))
	}
}

// groupMembersShareAndTakeOver runs two members of one group: together
// they see every record, never hold the same records at the same time, and
// when the member that was reading stops, the other one carries on.
func groupMembersShareAndTakeOver(t *testing.T, b bus.Bus) {
	topic, group := randomName("bt-"), randomName("bt-g-")
	var mu sync.Mutex
	inFlight := map[string]int{}
	var overlap []string
	member := func(s *sink) bus.Handler {
		return func(ctx context.Context, batch []bus.Record) error {
			mu.Lock()
			for _, r := range batch {
				if inFlight[string(r.Value)]++; inFlight[string(r.Value)] > 1 {
					overlap = append(overlap, string(r.Value))
				}
			}
			mu.Unlock()
			err := s.handle(ctx, batch)
			mu.Lock()
			for _, r := range batch {
				inFlight[string(r.Value)]--
			}
			mu.Unlock()
			return err
		}
	}
	var s1, s2 sink
	stop1 := consume(t, b, group, []string{topic}, quick, member(&s1))
	stop2 := consume(t, b, group, []string{topic}, quick, member(&s2))

	seen := func() map[string]bool {
		m := map[string]bool{}
		for _, v := range append(s1.values(), s2.values()...) {
			m[v] = true
		}
		return m
	}
	seenAll := func(n int) bool {
		m := seen()
		for i := range n {
			if !m[strconv.Itoa(i)] {
				return false
			}
		}
		return true
	}
	for i := 0; i < 20; i += 5 {
		publish(t, b, records(topic, "k", strconv.Itoa(i), strconv.Itoa(i+1), strconv.Itoa(i+2), strconv.Itoa(i+3), strconv.Itoa(i+4))...)
	}
	require.Eventually(t, func() bool { return seenAll(20) }, wait, tick)

	// Stop the member that has been reading; the one standing by must
	// take the partition over and deliver what comes next.
	if s1.len() > 0 {
		require.NoError(t, stop1())
	} else {
		require.NoError(t, stop2())
	}
	for i := 20; i < 40; i++ {
		publish(t, b, records(topic, "k", strconv.Itoa(i))...)
	}
	require.Eventually(t, func() bool { return seenAll(40) }, wait, tick)
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, overlap, "records delivered to two members at once")
}

func closedBus(t *testing.T, b bus.Bus) {
	topic := randomName("bt-")
	publish(t, b, records(topic, "k", "0")...)

	// Calls running when Close is called must return.
	var s sink
	consumeDone := make(chan error, 1)
	subscribeDone := make(chan error, 1)
	go func() {
		consumeDone <- b.Consume(context.Background(), randomName("bt-g-"), []string{topic}, quick, s.handle)
	}()
	go func() {
		subscribeDone <- b.Subscribe(context.Background(), []string{topic}, func(context.Context, []bus.Record) error { return nil })
	}()
	waitLen(t, &s, 1)
	require.NoError(t, b.Close())
	for _, done := range []chan error{consumeDone, subscribeDone} {
		select {
		case <-done:
		case <-time.After(wait):
			require.Fail(t, "a running call did not return after Close")
		}
	}

	ctx := context.Background()
	require.ErrorIs(t, b.Publish(ctx, records(topic, "k", "1")...), bus.ErrClosed)
	require.ErrorIs(t, b.Consume(ctx, randomName("bt-g-"), []string{topic}, quick, s.handle), bus.ErrClosed)
	require.ErrorIs(t, b.Subscribe(ctx, []string{topic}, s.handle), bus.ErrClosed)
}

func valuesOfKey(recs []bus.Record, key string) []string {
	var vs []string
	for _, r := range recs {
		if string(r.Key) == key {
			vs = append(vs, string(r.Value))
		}
	}
	return vs
}
