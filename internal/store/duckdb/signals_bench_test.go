package duckdb_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/taskpulse/taskpulse/schema"
)

// BenchmarkInsertLogs measures InsertLogs with batches shaped like the
// writer's: records of a thousand live tasks, about 330 bytes each as
// JSON, with a few attributes.
// Run with: go test -run '^$' -bench 'InsertLogs|InsertMetrics' -benchtime 100x ./internal/store/duckdb/
func BenchmarkInsertLogs(b *testing.B) {
	levels := []schema.Level{schema.LevelInfo, schema.LevelInfo, schema.LevelDebug, schema.LevelWarning, schema.LevelError}
	for _, size := range []int{500, 5000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := openStore(b, filepath.Join(b.TempDir(), "bench.duckdb"))
			batch := make([]schema.Log, size)
			var n int64
			b.ResetTimer()
			for b.Loop() {
				for i := range batch {
					n++
					batch[i] = schema.Log{
						Tenant:      "bench",
						EventID:     benchEventID(n),
						Timestamp:   1_750_000_000_000 + n,
						IngestOrder: n,
						TaskID:      fmt.Sprintf("task-%04d", n%1000),
						UserID:      fmt.Sprintf("user-%02d", n%37),
						Level:       levels[n%int64(len(levels))],
						Message:     fmt.Sprintf("fetched https://docs.example.com/guide/page-%d in %d ms", n%500, n%900),
						Source:      "scraper",
						TraceID:     "4bf92f3577b34da6a3ce929d0e0e4736",
						SpanID:      "00f067aa0ba902b7",
						Attributes:  map[string]string{"host": "docs.example.com", "worker": "w-3", "attempt": "1"},
					}
				}
				if err := s.InsertLogs(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// benchEventID is the UUIDv7 text ingest would stamp on the n-th record,
// timestamped 1_750_000_000_000 + n.
func benchEventID(n int64) string {
	ms := 1_750_000_000_000 + n
	return fmt.Sprintf("%08x-%04x-7000-8000-%012x", ms>>16, ms&0xffff, n)
}

// BenchmarkInsertMetrics measures InsertMetrics, rollup included, with
// samples of 200 series arriving a thousand a second, so that every batch
// also merges into minutes that earlier batches wrote.
func BenchmarkInsertMetrics(b *testing.B) {
	for _, size := range []int{500, 5000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := openStore(b, filepath.Join(b.TempDir(), "bench.duckdb"))
			batch := make([]schema.Metric, size)
			var n int64
			b.ResetTimer()
			for b.Loop() {
				for i := range batch {
					n++
					batch[i] = schema.Metric{
						Tenant:      "bench",
						EventID:     benchEventID(n),
						Timestamp:   1_750_000_000_000 + n,
						IngestOrder: n,
						Name:        "http_request_duration_ms",
						Kind:        schema.KindHistogram,
						Value:       float64(n%997) / 7,
						Unit:        "ms",
						Labels:      map[string]string{"route": fmt.Sprintf("/r%02d", n%50), "method": []string{"GET", "POST", "PUT", "DELETE"}[n%4]},
					}
				}
				if err := s.InsertMetrics(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
