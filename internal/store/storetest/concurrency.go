package storetest

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// testConcurrentWriters inserts overlapping batches of one history from
// several goroutines while others read, as a writer with several
// partitions would, and expects the same state as a sequential insert.
func testConcurrentWriters(t *testing.T, f *fixture) {
	rng := rand.New(rand.NewPCG(3, 4))
	events := randomHistory(rng, f.tenant, 200)
	const writers = 4
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			// Each writer sends its own quarter and a redelivered copy of
			// the next one, in batches of 10.
			mine := append(append([]schema.Progress(nil), events[w*50:(w+1)*50]...), events[((w+1)%writers)*50:][:50]...)
			for len(mine) > 0 {
				n := min(10, len(mine))
				if err := f.s.InsertProgress(f.ctx(), mine[:n]); err != nil {
					errs <- err
					return
				}
				mine = mine[n:]
			}
		}()
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := f.s.Tasks(f.ctx(), store.TaskFilter{Tenant: f.tenant, Limit: 10}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	f.requireTasks(events)
}
