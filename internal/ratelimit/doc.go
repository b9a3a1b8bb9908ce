// Package ratelimit caps how fast one tenant may ingest and query, and how
// often one remote address may fail to authenticate.
//
// Keyed holds one token bucket per key (a tenant, or an address) in a
// sharded map, so that concurrent callers of different keys rarely meet on
// a lock, and no call scans the map while holding a lock others need. A
// bucket starts full with Burst tokens and gains Rate tokens a second; a
// call takes n tokens or is told how long until it could.
//
// Memory is bounded two ways. A bucket that has refilled is dropped, as it
// is no different from the fresh one a later call would make; each shard
// sweeps itself now and then, on a call that touches it, and a full table
// is swept whole (at most once a second) before a new key is turned away.
// And the table holds at most MaxKeys buckets: past that, new keys share
// one overflow bucket. Evicting the idle-longest instead would let whoever rotates more
// addresses than the table holds reset every address's count, so that a
// key guesser gets unlimited tries; the shared bucket keeps the aggregate
// rate of all new keys bounded, and keeps the counts of keys already held.
//
// Limits joins the four limits a deployment configures (Config) and adapts
// them to their callers: ingest asks AllowIngest, query routes mount
// Queries, and auth.Middleware consults AuthGuard.
package ratelimit
