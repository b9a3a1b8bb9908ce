package clickhouse_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/taskpulse/taskpulse/internal/store/clickhouse"
	"github.com/taskpulse/taskpulse/schema"
)

// BenchmarkInsertLogs measures InsertLogs with batches shaped like the
// writer's: records of a thousand live tasks, about 330 bytes each as JSON,
// with a few attributes.
// Run with: TASKPULSE_CLICKHOUSE_ADDR=127.0.0.1:9000 go test -run '^$' -bench 'InsertLogs|InsertMetrics' -benchtime 40x ./internal/store/clickhouse/
func BenchmarkInsertLogs(b *testing.B) {
	levels := []schema.Level{schema.LevelInfo, schema.LevelInfo, schema.LevelDebug, schema.LevelWarning, schema.LevelError}
	benchInserts(b, (*clickhouse.Store).InsertLogs, func(n int64) schema.Log {
		return schema.Log{
			Tenant: benchTenant, EventID: fmt.Sprintf("0190b5a4-%012d", n), Timestamp: speedTime + n, IngestOrder: n,
			TaskID: fmt.Sprintf("task-%04d", n%1000), UserID: fmt.Sprintf("user-%02d", n%37), Level: levels[n%int64(len(levels))],
			Message: fmt.Sprintf("fetched https://docs.example.com/guide/page-%d in %d ms", n%500, n%900),
			Source:  "scraper", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
			Attributes: map[string]string{"host": "docs.example.com", "worker": "w-3", "attempt": "1"},
		}
	})
}

// BenchmarkInsertMetrics measures InsertMetrics, rollup included, with
// samples of 200 series arriving a thousand a second, so that every batch
// recomputes minutes that earlier batches wrote too.
func BenchmarkInsertMetrics(b *testing.B) {
	methods := []string{"GET", "POST", "PUT", "DELETE"}
	benchInserts(b, (*clickhouse.Store).InsertMetrics, func(n int64) schema.Metric {
		return schema.Metric{
			Tenant: benchTenant, EventID: fmt.Sprintf("0190b5a4-%012d", n), Timestamp: speedTime + n, IngestOrder: n,
			Name: "http_request_duration_ms", Kind: schema.KindHistogram, Value: float64(n%997) / 7, Unit: "ms",
			Labels: map[string]string{"route": fmt.Sprintf("/r%02d", n%50), "method": methods[n%4]},
		}
	})
}

// benchInserts inserts batches of 500 and of 5000 records, record n made
// by record(n), into a fresh database, and reports records per second.
func benchInserts[T any](b *testing.B, insert func(*clickhouse.Store, context.Context, []T) error, record func(n int64) T) {
	for _, size := range []int{500, 5000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := openStore(b, freshConfig(b), nil)
			batch := make([]T, size)
			var n int64
			for b.Loop() {
				for i := range batch {
					n++
					batch[i] = record(n)
				}
				if err := insert(s, b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
