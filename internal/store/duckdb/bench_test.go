package duckdb_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/taskpulse/taskpulse/schema"
)

// BenchmarkInsertProgress measures InsertProgress on a file that grows as
// the benchmark runs, with batches shaped like the writer's: events of a
// thousand live tasks, each with a progress value and a few attributes.
// Run with: go test -run '^$' -bench InsertProgress -benchtime 100x ./internal/store/duckdb/
func BenchmarkInsertProgress(b *testing.B) {
	for _, size := range []int{500, 5000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := openStore(b, filepath.Join(b.TempDir(), "bench.duckdb"))
			batch := make([]schema.Progress, size)
			var n int64
			b.ResetTimer()
			for b.Loop() {
				for i := range batch {
					n++
					p := float64(n % 101)
					batch[i] = schema.Progress{
						Tenant:      "bench",
						EventID:     fmt.Sprintf("0190b5a4-%012d", n),
						Timestamp:   1_750_000_000_000 + n,
						IngestOrder: n,
						TaskID:      fmt.Sprintf("task-%04d", n%1000),
						UserID:      fmt.Sprintf("user-%02d", n%37),
						TaskType:    "scrape_docs",
						TaskName:    "Scrape the documentation site",
						Status:      schema.StatusRunning,
						Progress:    &p,
						CurrentStep: "fetch pages",
						StepsDone:   n % 10,
						StepsTotal:  10,
						Message:     "fetched https://docs.example.com/guide/page",
						Attributes:  map[string]string{"host": "docs.example.com", "worker": "w-3", "attempt": "1"},
					}
				}
				if err := s.InsertProgress(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
