// Package backoff holds the one retry loop, and the waits between its
// calls, that the writer and alerting share.
package backoff

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Jitter returns a random wait between d/2 and d, so that processes
// recovering from the same outage do not all retry at once.
func Jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// Sleep waits d, or returns false as soon as ctx ends.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Policy says how Retry spaces its calls.
type Policy struct {
	// Min and Max bound the wait after a failure: Min after the first,
	// doubling up to Max, each with Jitter.
	Min, Max time.Duration
	// Attempts caps the calls; 0 calls until ctx ends.
	Attempts int
	// ResetAfter starts the waits over from Min after a call that ran
	// longer than this before it failed: it worked for a while, so this
	// is a new outage, not the old one going on. 0 never resets.
	ResetAfter time.Duration
	// MaxHint caps a wait asked for with After; 0 leaves it as asked.
	MaxHint time.Duration
	// OnRetry, when set, hears of every failure that is retried and of
	// the wait before the next call, for logs and metrics.
	OnRetry func(err error, wait time.Duration)
}

// Wait is the wait after the n-th failure in a row (n from 1).
func (p Policy) Wait(n int) time.Duration {
	d := p.Min
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return Jitter(min(d, p.Max))
}

// Retry calls f until it returns nil, an error marked Permanent, or
// p.Attempts errors, or until ctx ends; it returns nil or the last error
// (a Permanent one unmarked). Between calls it waits as p says, or as the
// error asks through After.
func Retry(ctx context.Context, p Policy, f func(context.Context) error) error {
	calls, failures := 0, 0
	for {
		start := time.Now()
		err := f(ctx)
		if err == nil {
			return nil
		}
		if perm, ok := errors.AsType[*permanent](err); ok {
			return perm.err
		}
		calls++
		if p.Attempts > 0 && calls >= p.Attempts {
			return err
		}
		failures++
		if p.ResetAfter > 0 && time.Since(start) > p.ResetAfter {
			failures = 1
		}
		wait := p.Wait(failures)
		if h, ok := errors.AsType[*hint](err); ok {
			wait = h.wait
			if p.MaxHint > 0 {
				wait = min(wait, p.MaxHint)
			}
		}
		if p.OnRetry != nil {
			p.OnRetry(err, wait)
		}
		if wait <= 0 {
			if ctx.Err() != nil {
				return err
			}
			continue
		}
		if !Sleep(ctx, wait) {
			return err
		}
	}
}

// Permanent marks err as one that another call cannot mend: Retry
// returns it at once. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err}
}

type permanent struct{ err error }

func (e *permanent) Error() string { return e.err.Error() }
func (e *permanent) Unwrap() error { return e.err }

// After marks err with the wait the next call should come after, as a
// receiver's Retry-After asks, in place of the policy's. After(d, nil)
// is nil.
func After(d time.Duration, err error) error {
	if err == nil {
		return nil
	}
	return &hint{d, err}
}

type hint struct {
	wait time.Duration
	err  error
}

func (e *hint) Error() string { return e.err.Error() }
func (e *hint) Unwrap() error { return e.err }
