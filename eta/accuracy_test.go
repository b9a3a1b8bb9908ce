package eta_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/eta"
	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/backend"
	"github.com/taskpulse/taskpulse/internal/datagen"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// TestETAAccuracy generates the datagen data set into DuckDB, learns a
// model from four in five completed tasks, seeded from the store as the
// query API seeds it, and compares, on the fifth left out, the time left
// that history and the rate alone give at 25, 50 and 75 % progress with
// the time the tasks really took. It prints the table and requires
// history to be nearer at each.
func TestETAAccuracy(t *testing.T) {
	ctx := t.Context()
	d := datagen.Dataset{
		DataDir: t.TempDir(),
		Backend: backend.Flags{Bus: backend.BusEmbedded, Store: backend.StoreDuckDB},
		Days:    3,
		End:     time.UnixMilli(1_790_000_000_000),
	}
	_, err := datagen.Run(ctx, datagen.Config{Dataset: d, Events: 100_000, Tenants: 1, Batch: 20_000, Seed: 1}, io.Discard)
	require.NoError(t, err)
	be, err := d.Open(ctx, nil, false)
	require.NoError(t, err)
	defer be.Close()

	train, test := completedTimelines(t, ctx, be.Store)
	m := eta.New(eta.Config{})
	for _, tl := range train { // newest first, as seeding reads them
		m.Seed(auth.DefaultTenant, tl)
	}

	var out strings.Builder
	fmt.Fprintf(&out, "ETA median absolute error, seconds, on %d held-out completed tasks (trained on %d, newest %d per type kept)\n",
		len(test), len(train), eta.Window)
	fmt.Fprintf(&out, "%-9s %9s %9s %8s %10s %8s\n", "progress", "history", "rate", "ratio", "within p90", "tasks")
	for _, at := range []float64{25, 50, 75} {
		var hist, rate []float64
		within := 0
		for _, tl := range test {
			task, truth, ok := stateAt(tl, at)
			if !ok {
				continue
			}
			h := m.Estimate(task, task.ProgressAt)
			r := (*eta.Model)(nil).Estimate(task, task.ProgressAt)
			if h.Source != eta.SourceHistory || r.Source != eta.SourceRate {
				continue
			}
			hist = append(hist, math.Abs(float64(*h.ETA)-truth))
			rate = append(rate, math.Abs(float64(*r.ETA)-truth))
			if truth <= float64(*h.P90) {
				within++
			}
		}
		require.NotEmpty(t, hist)
		mh, mr := median(hist), median(rate)
		fmt.Fprintf(&out, "%-9s %9.1f %9.1f %8.2f %9.0f%% %8d\n",
			fmt.Sprintf("%.0f%%", at), mh, mr, mh/mr, 100*float64(within)/float64(len(hist)), len(hist))
		require.Less(t, mh, mr, "at %.0f %%, history against the rate", at)
	}
	t.Log("\n" + out.String())
}

// completedTimelines reads every completed task's events, newest task
// first, and splits them: one in five, by a hash of the task id, is left
// out of training.
func completedTimelines(t *testing.T, ctx context.Context, st store.Store) (train, test [][]schema.Progress) {
	t.Helper()
	f := store.TaskFilter{Tenant: auth.DefaultTenant, Statuses: []schema.Status{schema.StatusCompleted}, Limit: 1000}
	for {
		tasks, err := st.Tasks(ctx, f)
		require.NoError(t, err)
		for _, task := range tasks {
			events, err := st.TaskEvents(ctx, f.Tenant, task.TaskID, store.EventFilter{Limit: 1000})
			require.NoError(t, err)
			h := fnv.New32a()
			h.Write([]byte(task.TaskID))
			if h.Sum32()%5 == 0 {
				test = append(test, events)
			} else {
				train = append(train, events)
			}
		}
		if len(tasks) < f.Limit {
			return train, test
		}
		last := tasks[len(tasks)-1]
		f.After = &store.TaskCursor{UpdatedAt: last.UpdatedAt, TaskID: last.TaskID}
	}
}

// stateAt is the task as the API shows it just after its first report at
// or past progress p, and the seconds it really had left then.
func stateAt(tl []schema.Progress, p float64) (eta.Task, float64, bool) {
	start := tl[0].Timestamp
	if i := slices.IndexFunc(tl, func(e schema.Progress) bool { return e.Status == schema.StatusRunning }); i >= 0 {
		start = tl[i].Timestamp
	}
	end := tl[len(tl)-1].Timestamp
	for _, e := range tl {
		if e.Status == schema.StatusRunning && e.Progress != nil && *e.Progress >= p {
			task := eta.Task{Tenant: auth.DefaultTenant, Type: e.TaskType, Step: e.CurrentStep, Status: e.Status, Progress: *e.Progress,
				Start: start, ProgressAt: e.Timestamp, UpdatedAt: e.Timestamp}
			return task, float64(end-e.Timestamp) / 1000, true
		}
	}
	return eta.Task{}, 0, false
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}
