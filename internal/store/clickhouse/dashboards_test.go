package clickhouse_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
)

// TestDashboardIfMatchAcrossStores races updates that hold the same
// version through two stores on one database, as two processes would. The
// engine leaves a window in which both can be told they won (see
// dashboards.go), so this checks what holds regardless: every loser gets
// store.ErrConflict, some writer wins, the stored dashboard is a winner's,
// and the version goes up by exactly one a round.
func TestDashboardIfMatchAcrossStores(t *testing.T) {
	cfg := freshConfig(t)
	stores := []store.Store{openStore(t, cfg, nil), openStore(t, cfg, nil)}
	ctx := t.Context()
	current, err := stores[0].CreateDashboard(ctx, store.Dashboard{Tenant: "acme", ID: "d", Title: "start", Definition: []byte(`{}`)})
	require.NoError(t, err)
	const rounds = 30
	doubles := 0
	for round := range rounds {
		start := make(chan struct{})
		results := make([]error, len(stores))
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() {
				<-start
				_, results[i] = s.UpdateDashboard(ctx, store.Dashboard{Tenant: "acme", ID: "d", Title: fmt.Sprintf("%d/%d", round, i), Definition: []byte(`{}`)}, current.Version)
			})
		}
		close(start)
		wg.Wait()
		var winners []string
		for i, err := range results {
			if err != nil {
				require.ErrorIs(t, err, store.ErrConflict)
				continue
			}
			winners = append(winners, fmt.Sprintf("%d/%d", round, i))
		}
		require.NotEmpty(t, winners, "round %d", round)
		if len(winners) > 1 {
			doubles++
		}
		got, err := stores[round%2].Dashboard(ctx, "acme", "d")
		require.NoError(t, err)
		require.Equal(t, current.Version+1, got.Version, "round %d", round)
		require.Contains(t, winners, got.Title, "round %d", round)
		current = got
	}
	t.Logf("%d of %d rounds told both writers they won", doubles, rounds)
}
