package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkTaskOperations measures, against one all-in-one server in the
// test process (so that -cpuprofile covers it), a single event through
// raw ingest beside the task API's ways of making the same change: a
// PATCH, and batches of 100 updates. Compare them by the ratio of their
// events/s within one run.
func BenchmarkTaskOperations(b *testing.B) {
	srv := startServer(b)
	const tasks = 256
	var ops []string
	for i := range tasks {
		ops = append(ops, fmt.Sprintf(`{"op":"create","task_id":"bench-%d","status":"running"}`, i))
	}
	benchSend(b, srv.base+"/v1/tasks/batch", `{"operations":[`+strings.Join(ops, ",")+`]}`, http.MethodPost)
	var n atomic.Int64
	next := func() int64 { return n.Add(1) }

	run := func(b *testing.B, events int, send func(i int64)) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				send(next())
			}
		})
		b.ReportMetric(float64(b.N*events)/b.Elapsed().Seconds(), "events/s")
	}
	b.Run("ingest", func(b *testing.B) {
		run(b, 1, func(i int64) {
			benchSend(b, srv.base+"/v1/progress", fmt.Sprintf(`{"task_id":"bench-%d","status":"running","progress":%d}`, i%tasks, i%100), http.MethodPost)
		})
	})
	b.Run("patch", func(b *testing.B) {
		run(b, 1, func(i int64) {
			benchSend(b, fmt.Sprintf("%s/v1/tasks/bench-%d", srv.base, i%tasks), fmt.Sprintf(`{"progress":%d}`, i%100), http.MethodPatch)
		})
	})
	b.Run("batch100", func(b *testing.B) {
		run(b, 100, func(i int64) {
			items := make([]string, 100)
			for j := range items {
				items[j] = fmt.Sprintf(`{"op":"update","task_id":"bench-%d","progress":%d}`, (i*100+int64(j))%tasks, j)
			}
			benchSend(b, srv.base+"/v1/tasks/batch", `{"operations":[`+strings.Join(items, ",")+`]}`, http.MethodPost)
		})
	})
}

// benchSend sends a JSON body and fails b unless the answer is a success.
func benchSend(b *testing.B, url, body, method string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		b.Fatalf("%s %s: %d", method, url, resp.StatusCode)
	}
}
