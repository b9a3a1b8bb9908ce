package eta

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/taskpulse/taskpulse/schema"
)

// BenchmarkObserve follows runs of 21 events each, of 8 types, as the
// query API follows every progress event on the bus.
func BenchmarkObserve(b *testing.B) {
	var events []schema.Progress
	for i := range 1000 {
		events = append(events, timeline("a", fmt.Sprint("t", i), fmt.Sprint("type", i%8), t0+int64(i)*1000, 60_000, frontLoaded)...)
	}
	m := New(Config{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Observe(&events[i%len(events)])
		i++
	}
}

// BenchmarkEstimate renders the estimate of a task from a full history,
// as a listing does for each of its tasks.
func BenchmarkEstimate(b *testing.B) {
	m := New(Config{})
	learnRuns(m, rand.New(rand.NewPCG(1, 2)), "a", "scrape", 2*Window, 600_000, 0.5)
	task := at(timeline("a", "new", "scrape", t0, 600_000, frontLoaded), 35)
	b.ReportAllocs()
	for b.Loop() {
		if m.Estimate(task, task.ProgressAt).Source != SourceHistory {
			b.Fatal("no history")
		}
	}
}
