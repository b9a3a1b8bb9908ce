package ratelimit

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clock is a settable time for buckets under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_700_000_000, 0)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestKeyedAllow(t *testing.T) {
	clk := newClock()
	k := NewKeyed(2, 4, 100, clk.now) // 2 tokens a second, burst 4
	f := func(key string, n int, wantOK bool, wantWait time.Duration) {
		t.Helper()
		wait, ok := k.Allow(key, n)
		require.Equal(t, wantOK, ok, "Allow(%q, %d)", key, n)
		require.Equal(t, wantWait, wait, "Allow(%q, %d)", key, n)
	}
	f("a", 3, true, 0)
	f("a", 1, true, 0)
	f("a", 1, false, time.Second) // half a second away, rounded up
	f("b", 4, true, 0)            // keys are independent
	clk.advance(500 * time.Millisecond)
	f("a", 1, true, 0)
	f("a", 3, false, 2*time.Second) // 1.5 s away
	f("a", 0, true, 0)              // free
	f("a", -5, true, 0)
	clk.advance(10 * time.Second)
	f("a", 4, true, 0) // refilled, but never above the burst
	f("a", 1, false, time.Second)
}

func TestKeyedOverBurst(t *testing.T) {
	clk := newClock()
	k := NewKeyed(1, 5, 100, clk.now)
	f := func(n int, wantOK bool, wantWait time.Duration) {
		t.Helper()
		wait, ok := k.Allow("a", n)
		require.Equal(t, wantOK, ok, "Allow(%d)", n)
		require.Equal(t, wantWait, wait, "Allow(%d)", n)
	}
	f(12, true, 0)             // a full bucket takes it, 7 in debt
	f(1, false, 8*time.Second) // the debt is paid before anything else
	clk.advance(8 * time.Second)
	f(1, true, 0)
	f(12, false, 5*time.Second) // not full: waits until it is
	clk.advance(5 * time.Second)
	f(12, true, 0)
}

func TestKeyedRetryAfterIsWholeSeconds(t *testing.T) {
	clk := newClock()
	k := NewKeyed(10.0/60, 1, 100, clk.now) // 10 a minute
	_, ok := k.Allow("a", 1)
	require.True(t, ok)
	wait, ok := k.Allow("a", 1)
	require.False(t, ok)
	require.Equal(t, 6*time.Second, wait)
	clk.advance(5500 * time.Millisecond)
	wait, ok = k.Allow("a", 1)
	require.False(t, ok)
	require.Equal(t, time.Second, wait, "half a second left is one second, never zero")
}

func TestKeyedUnlimited(t *testing.T) {
	for _, k := range []*Keyed{nil, NewKeyed(0, 1, 1, nil)} {
		for range 1000 {
			_, ok := k.Allow("a", 1<<20)
			require.True(t, ok)
		}
		_, blocked := k.Peek("a")
		require.False(t, blocked)
		require.Zero(t, k.Len())
	}
}

func TestKeyedDropsRefilledBuckets(t *testing.T) {
	clk := newClock()
	k := NewKeyed(1, 2, 100_000, clk.now) // refills in 2 s, so shards sweep every 2 s
	for i := range 200 {
		k.Allow("k"+strconv.Itoa(i), 1)
	}
	clk.advance(time.Second)
	k.Allow("k0", 2) // empty until 3 s
	clk.advance(1500 * time.Millisecond)
	for i := range 200 {
		k.Peek("k" + strconv.Itoa(i)) // peeking neither sweeps nor inserts
		k.Allow("k"+strconv.Itoa(i), 0)
	}
	require.Equal(t, 200, k.Len())
	// Calls that reach every shard sweep it.
	const calls = shardCount * 20
	for i := range calls {
		k.Allow("new"+strconv.Itoa(i), 1)
	}
	require.Equal(t, 1+calls, k.Len(), "every refilled bucket was dropped, k0 kept")
	wait, blocked := k.Peek("k0")
	require.False(t, blocked, wait)
}

func TestKeyedFullTableSharesOverflow(t *testing.T) {
	clk := newClock()
	k := NewKeyed(1, 2, 2, clk.now)
	allow := func(key string, wantOK bool) {
		t.Helper()
		_, ok := k.Allow(key, 1)
		require.Equal(t, wantOK, ok, key)
	}
	allow("a", true)
	allow("b", true)
	require.Equal(t, 2, k.Len())
	// New keys share one bucket of the same rate and burst ...
	allow("c", true)
	allow("d", true)
	allow("e", false)
	_, blocked := k.Peek("f")
	require.True(t, blocked, "a new key is judged by the overflow bucket")
	require.Equal(t, uint64(3), k.Overflowed())
	// ... while the keys already held keep their own.
	allow("a", true)
	allow("a", false)
	_, blocked = k.Peek("b")
	require.False(t, blocked)
	// Once held buckets refill, a sweep makes room again.
	clk.advance(3 * time.Second)
	allow("c", true)
	require.Equal(t, uint64(3), k.Overflowed(), "c has a bucket of its own")
	require.LessOrEqual(t, k.Len(), 2)
}

func TestKeyedRefund(t *testing.T) {
	clk := newClock()
	k := NewKeyed(1, 3, 1, clk.now)
	_, ok := k.Allow("a", 3)
	require.True(t, ok)
	k.refund("a", 2)
	_, ok = k.Allow("a", 2)
	require.True(t, ok)
	_, ok = k.Allow("b", 3) // overflow
	require.True(t, ok)
	k.refund("b", 10)
	_, ok = k.Allow("b", 3)
	require.True(t, ok, "refunded to the overflow bucket, up to the burst")
	_, ok = k.Allow("b", 1)
	require.False(t, ok)
}

func TestKeyedConcurrentCallsTakeExactlyTheBurst(t *testing.T) {
	clk := newClock() // frozen: nothing refills
	k := NewKeyed(1, 500, 1000, clk.now)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				if _, ok := k.Allow("shared", 1); ok {
					allowed.Add(1)
				}
				k.Allow("own"+strconv.Itoa(g*1000+i%10), 1)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(500), allowed.Load())
	require.Equal(t, 1+16*10, k.Len())
}

func TestAddrKey(t *testing.T) {
	f := func(addr, want string) {
		t.Helper()
		require.Equal(t, want, addrKey(addr), addr)
	}
	f("192.0.2.7", "192.0.2.7")
	f("::ffff:192.0.2.7", "192.0.2.7")
	f("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64")
	f("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64")
	f("2001:db8:1:3::1", "2001:db8:1:3::/64")
	f("fe80::1%eth0", "fe80::/64")
	f("not an address", "not an address")
}

func BenchmarkKeyedAllow(b *testing.B) {
	b.Run("one key", func(b *testing.B) {
		k := NewKeyed(1e12, 1<<30, DefaultMaxKeys, nil)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k.Allow("tenant", 100)
			}
		})
	})
	b.Run("many keys", func(b *testing.B) {
		k := NewKeyed(1e12, 1<<30, DefaultMaxKeys, nil)
		keys := make([]string, 1024)
		for i := range keys {
			keys[i] = "tenant-" + strconv.Itoa(i)
		}
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1)) * 7919
			for pb.Next() {
				k.Allow(keys[i%len(keys)], 100)
				i++
			}
		})
	})
	b.Run("unlimited", func(b *testing.B) {
		k := NewKeyed(0, 0, DefaultMaxKeys, nil)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k.Allow("tenant", 100)
			}
		})
	})
}
