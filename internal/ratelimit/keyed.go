package ratelimit

import (
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// shardCount is a power of two, so that a hash picks a shard with a mask.
// Sixty-four keeps the chance of two busy keys sharing a lock low at the
// core counts ingest runs on.
const shardCount = 64

// minSweep is how often, at most, a full table is swept while new keys
// keep arriving: a flood of new keys would otherwise scan it on every call.
const minSweep = time.Second

// maxSweep bounds how long a refilled bucket can linger before its shard
// drops it.
const maxSweep = time.Minute

// Keyed is a set of token buckets, one per key, safe for concurrent use.
// A nil or unlimited (zero rate) Keyed allows everything.
type Keyed struct {
	perNano float64 // tokens gained a nanosecond
	burst   float64
	maxKeys int64
	sweep   int64 // nanoseconds between a shard's sweeps
	now     func() time.Time
	base    time.Time
	seed    maphash.Seed

	size       atomic.Int64
	overflowed atomic.Uint64
	fullSweep  atomic.Int64 // when the full table was last swept
	shards     [shardCount]shard

	overflowMu sync.Mutex
	overflow   bucket
}

type shard struct {
	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep int64
	_         [40]byte // one shard a cache line, so that locks do not share lines
}

type bucket struct {
	tokens float64
	last   int64 // nanoseconds since Keyed.base
}

// NewKeyed makes buckets of burst tokens that refill at rate tokens a
// second, at most maxKeys of them (at least one). A burst below one is
// one. now is the clock; nil means time.Now.
func NewKeyed(rate float64, burst, maxKeys int, now func() time.Time) *Keyed {
	if now == nil {
		now = time.Now
	}
	k := &Keyed{
		perNano: rate / float64(time.Second),
		burst:   float64(max(burst, 1)),
		maxKeys: int64(max(maxKeys, 1)),
		now:     now,
		base:    now(),
		seed:    maphash.MakeSeed(),
	}
	if rate > 0 {
		refill := time.Duration(k.burst / k.perNano)
		k.sweep = int64(min(max(refill, minSweep), maxSweep))
	}
	for i := range k.shards {
		k.shards[i].buckets = map[string]*bucket{}
	}
	k.overflow.tokens = k.burst
	k.fullSweep.Store(-int64(minSweep)) // a table full from the start may be swept at once
	return k
}

// Allow takes n tokens from key's bucket. When they are not there it takes
// none and says how long until they will be, in whole seconds and at least
// one, ready for a Retry-After header.
//
// A request for more than the burst is allowed when the bucket is full,
// and leaves the bucket that much in debt: refusing it would refuse it
// forever (no wait ever makes it fit), while the debt keeps the long-run
// rate what was configured. n of zero or less costs nothing.
func (k *Keyed) Allow(key string, n int) (time.Duration, bool) {
	if k.unlimited() || n <= 0 {
		return 0, true
	}
	t := k.nanos()
	sh := k.shard(key)
	sh.mu.Lock()
	if t-sh.lastSweep >= k.sweep {
		k.sweepShard(sh, t)
	}
	b := sh.buckets[key]
	if b == nil && k.size.Load() >= k.maxKeys {
		// Sweeping locks every shard, so this one is let go first.
		sh.mu.Unlock()
		k.sweepFull(t)
		sh.mu.Lock()
		b = sh.buckets[key]
	}
	if b == nil {
		if b = k.insert(sh, key, t); b == nil {
			sh.mu.Unlock()
			k.overflowed.Add(1)
			k.overflowMu.Lock()
			defer k.overflowMu.Unlock()
			return k.take(&k.overflow, t, n)
		}
	}
	wait, ok := k.take(b, t, n)
	sh.mu.Unlock()
	return wait, ok
}

// Peek reports whether key's bucket holds fewer than one token, and if so
// how long until it will, without taking any or making a bucket. A key with
// no bucket of its own is judged by the overflow bucket when the table is
// full, as Allow would charge it there.
func (k *Keyed) Peek(key string) (time.Duration, bool) {
	if k.unlimited() {
		return 0, false
	}
	t := k.nanos()
	sh := k.shard(key)
	sh.mu.Lock()
	b := sh.buckets[key]
	if b != nil {
		tokens := k.tokens(b, t)
		sh.mu.Unlock()
		return k.blocked(tokens)
	}
	sh.mu.Unlock()
	if k.size.Load() < k.maxKeys {
		return 0, false
	}
	if k.sweepFull(t); k.size.Load() < k.maxKeys {
		return 0, false
	}
	k.overflowMu.Lock()
	tokens := k.tokens(&k.overflow, t)
	k.overflowMu.Unlock()
	return k.blocked(tokens)
}

// refund gives back n tokens Allow took for key, up to the burst.
func (k *Keyed) refund(key string, n int) {
	if k.unlimited() || n <= 0 {
		return
	}
	sh := k.shard(key)
	sh.mu.Lock()
	if b := sh.buckets[key]; b != nil {
		b.tokens = min(k.burst, b.tokens+float64(n))
		sh.mu.Unlock()
		return
	}
	sh.mu.Unlock()
	// No bucket of its own: Allow charged the overflow bucket.
	k.overflowMu.Lock()
	k.overflow.tokens = min(k.burst, k.overflow.tokens+float64(n))
	k.overflowMu.Unlock()
}

// Len is the number of keys with a bucket of their own.
func (k *Keyed) Len() int {
	if k == nil {
		return 0
	}
	return int(k.size.Load())
}

// Overflowed counts the calls of keys that found the table full.
func (k *Keyed) Overflowed() uint64 {
	if k == nil {
		return 0
	}
	return k.overflowed.Load()
}

func (k *Keyed) unlimited() bool { return k == nil || k.perNano <= 0 }

func (k *Keyed) nanos() int64 { return int64(k.now().Sub(k.base)) }

func (k *Keyed) shard(key string) *shard {
	return &k.shards[maphash.String(k.seed, key)&(shardCount-1)]
}

// insert makes a full bucket for key, or returns nil when the table is
// full.
func (k *Keyed) insert(sh *shard, key string, t int64) *bucket {
	if k.size.Add(1) > k.maxKeys {
		k.size.Add(-1)
		return nil
	}
	b := &bucket{tokens: k.burst, last: t}
	// The caller's string may point into a reused request buffer.
	sh.buckets[strings.Clone(key)] = b
	return b
}

// sweepFull sweeps every shard, unless the table was swept less than
// minSweep ago. The caller holds no shard lock.
func (k *Keyed) sweepFull(t int64) {
	last := k.fullSweep.Load()
	if t-last < int64(minSweep) || !k.fullSweep.CompareAndSwap(last, t) {
		return
	}
	for i := range k.shards {
		sh := &k.shards[i]
		sh.mu.Lock()
		k.sweepShard(sh, t)
		sh.mu.Unlock()
	}
}

// sweepShard drops the refilled buckets of a shard whose lock the caller
// holds: a refilled bucket is no different from the one a later call would
// make.
func (k *Keyed) sweepShard(sh *shard, t int64) {
	sh.lastSweep = t
	for key, b := range sh.buckets {
		if k.tokens(b, t) >= k.burst {
			delete(sh.buckets, key)
			k.size.Add(-1)
		}
	}
}

// tokens is what b holds at t.
func (k *Keyed) tokens(b *bucket, t int64) float64 {
	elapsed := max(t-b.last, 0)
	return min(k.burst, b.tokens+float64(elapsed)*k.perNano)
}

func (k *Keyed) take(b *bucket, t int64, n int) (time.Duration, bool) {
	tokens := k.tokens(b, t)
	b.last = max(t, b.last)
	need := min(float64(n), k.burst)
	if tokens >= need {
		b.tokens = tokens - float64(n)
		return 0, true
	}
	b.tokens = tokens
	return k.wait(need - tokens), false
}

func (k *Keyed) blocked(tokens float64) (time.Duration, bool) {
	if tokens >= 1 {
		return 0, false
	}
	return k.wait(1 - tokens), true
}

// wait is how long the bucket takes to gain deficit tokens, rounded up to
// whole seconds, as Retry-After counts in seconds and a client that came
// back early would only be refused again.
func (k *Keyed) wait(deficit float64) time.Duration {
	secs := math.Ceil(deficit / k.perNano / float64(time.Second))
	if secs > math.MaxInt32 {
		secs = math.MaxInt32
	}
	return time.Duration(max(secs, 1)) * time.Second
}
