// Package backoff holds the waits between retries that the writer and
// alerting share.
package backoff

import (
	"context"
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
