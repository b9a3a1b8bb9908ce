//go:build unix

package writer

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/taskpulse/taskpulse/ingest/internal/ingesttest"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/schema"
)

// BenchmarkWriterLogs drains a bus of log records shaped like the peer
// harness's lines (a UUIDv7 task per line, ~120 B messages, three
// attributes) into DuckDB, from the first record read to the last stored,
// as the all-in-one server does behind a sustained load, and until the
// store is closed.
// Run with: go test -run '^$' -bench WriterLogs -benchtime 3x -cpuprofile /tmp/writer.pprof ./ingest/writer/
func BenchmarkWriterLogs(b *testing.B) {
	const lines = 200_000
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		bs, st := ingesttest.OpenPipeline(b)
		publishLogs(b, bs, lines)
		w, err := New(Config{}, Deps{Bus: bs, Store: st})
		if err != nil {
			b.Fatal(err)
		}
		stored := w.rows.WithLabelValues(schema.TopicLogs, "stored")
		ctx, cancel := context.WithCancel(b.Context())
		done := make(chan struct{})
		before := processCPU(b)
		b.StartTimer()
		go func() { defer close(done); _ = w.Run(ctx) }()
		for testutil.ToFloat64(stored) < lines {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done
		// Closing checkpoints what the log still holds, work that a
		// longer run would have done in its commits.
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += processCPU(b) - before
		b.StartTimer()
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(lines*b.N)/cpu.Seconds(), "lines/CPU-s")
}

// processCPU is the CPU time the process has used so far, DuckDB's
// threads included, which a CPU profile of Go code does not see: on a
// machine shared with other work it is the figure to compare.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// publishLogs publishes n log records in requests of 500, as ingest does.
func publishLogs(b *testing.B, bs bus.Bus, n int) {
	b.Helper()
	levels := []schema.Level{schema.LevelInfo, schema.LevelInfo, schema.LevelDebug, schema.LevelWarning, schema.LevelError}
	now := time.Now().UnixMilli()
	recs := make([]bus.Record, 0, 500)
	for i := range n {
		l := schema.Log{
			Tenant:      "default",
			EventID:     uuid.Must(uuid.NewV7()).String(),
			Timestamp:   now + int64(i/1000),
			IngestOrder: int64(i),
			TaskID:      uuid.Must(uuid.NewV7()).String(),
			UserID:      fmt.Sprintf("user-%05d", i%5000),
			Level:       levels[i%len(levels)],
			Message:     fmt.Sprintf("delivered batch %d of the nightly export to the archive bucket after %d retries; next attempt in %d ms", i, i%7, i%900),
			Attributes:  map[string]string{"queue": "emails", "attempt": "2", "worker": fmt.Sprintf("worker-%02d", i%16)},
		}
		recs = append(recs, bus.Record{Topic: schema.TopicLogs, Key: []byte(l.TaskID), Value: schema.AppendLog(nil, &l)})
		if len(recs) == cap(recs) || i == n-1 {
			if err := bs.Publish(b.Context(), recs...); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
}
