package embedded

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/taskpulse/taskpulse/internal/bus"
)

// BenchmarkPublish measures the ingest hot path: concurrent goroutines
// publish batches of ~400-byte records, each call waiting for its fsync.
// The records/s metric is what to compare against the ingest target.
// Throughput is bound by fsync latency times the records in flight, so
// single-record calls need many concurrent callers, as ingest has under
// load; the goroutine count is GOMAXPROCS times perProc.
func BenchmarkPublish(b *testing.B) {
	for _, c := range []struct{ batch, perProc int }{
		{1, 64}, {1, 256}, {100, 8}, {500, 2}, {500, 8},
	} {
		batch := c.batch
		b.Run(fmt.Sprintf("batch=%d/perproc=%d", batch, c.perProc), func(b *testing.B) {
			bs, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer bs.Close()
			value := []byte(`{"task_id":"0192f3a4-7b1c-7def-8a90-123456789abc","status":"running","progress":42,"message":"` +
				strings.Repeat("m", 260) + `"}`)
			b.SetBytes(int64(batch * len(value)))
			b.SetParallelism(c.perProc)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				recs := make([]bus.Record, batch)
				for i := range recs {
					recs[i] = bus.Record{
						Topic:   "progress",
						Key:     []byte(fmt.Sprintf("0192f3a4-7b1c-7def-8a90-%012d", i)),
						Value:   value,
						Headers: map[string]string{"tenant": "acme"},
					}
				}
				for pb.Next() {
					if err := bs.Publish(context.Background(), recs...); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
