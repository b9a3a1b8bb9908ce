package duckdb

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
)

// TestPlanSeries checks which part of a window each table serves.
func TestPlanSeries(t *testing.T) {
	const m = store.RollupStep
	const base = 1_750_000_020_000 // a whole minute
	f := func(from, to, step, rollupFrom, rollupUntil, rawFrom, rawUntil int64) {
		t.Helper()
		p := planSeries(store.SeriesQuery{From: from, To: to, Step: step})
		require.Equal(t, [4]int64{rollupFrom, rollupUntil, rawFrom, rawUntil},
			[4]int64{p.rollupFrom, p.rollupUntil, p.rawFrom, p.rawUntil})
	}
	f(base, base+10*m, m, base, base+10*m, base+10*m, base+10*m)     // rollup only
	f(base, base+10*m, 5*m, base, base+10*m, base+10*m, base+10*m)   // multiple of a minute
	f(base, base+10*m+5, m, base, base+10*m, base+10*m, base+10*m+5) // partial last minute from raw
	f(base, base+10*m, m/2, 0, 0, base, base+10*m)                   // step below a minute
	f(base, base+10*m, 90_000, 0, 0, base, base+10*m)                // not a multiple
	f(base+1, base+10*m, m, 0, 0, base+1, base+10*m)                 // unaligned start
	f(base, base+m/2, m, base, base, base, base+m/2)                 // under a minute
}
