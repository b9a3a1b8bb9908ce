package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"
)

// BenchmarkPipelineKafkaClickHouse measures the distributed pipeline with
// every process on this machine: sustained rows/s from HTTP through Kafka
// into ClickHouse for several writer batch sizes, each followed by a plain
// clickhouse-go batch insert of as many rows, the ceiling, so that x_plain,
// the ratio of the two, compares runs that saw the same load on a shared
// machine; and the latency from an ingest ack to the WebSocket and to the
// query API.
//
//	TASKPULSE_KAFKA_BROKERS=127.0.0.1:9092 TASKPULSE_CLICKHOUSE_ADDR=127.0.0.1:9000 \
//	  go test -run '^$' -bench PipelineKafkaClickHouse -benchtime 1x ./cmd/taskpulse/
func BenchmarkPipelineKafkaClickHouse(b *testing.B) {
	const rows = 200_000
	for _, batch := range []int{1_000, 10_000, 50_000} {
		b.Run(fmt.Sprintf("writer_batch=%d", batch), func(b *testing.B) {
			for range b.N {
				ingested, stored := pipelineRates(b, batch, rows)
				plain := plainInsertRate(b, rows)
				b.ReportMetric(ingested, "ingest_rows/s")
				b.ReportMetric(stored, "stored_rows/s")
				b.ReportMetric(plain, "plain_rows/s")
				b.ReportMetric(stored/plain, "x_plain")
			}
		})
	}
	b.Run("latency", func(b *testing.B) {
		reportLatencies(b, []string{"--writer-wait", "50ms"})
	})
}

// reportLatencies starts ingest, query, stream and a writer for each of
// writers (its extra arguments), and reports the latencies
// measureLatencies finds through them.
func reportLatencies(b *testing.B, writers ...[]string) {
	for range b.N {
		c := requireCluster(b)
		ingest := c.start(b, "ingest")
		for _, extra := range writers {
			c.start(b, "writer", extra...)
		}
		query := c.start(b, "query")
		stream := c.start(b, "stream")
		ws, p50, p99 := measureLatencies(b, ingest, query, stream, 300)
		b.ReportMetric(float64(ws[0].Microseconds())/1000, "ws_p50_ms")
		b.ReportMetric(float64(ws[1].Microseconds())/1000, "ws_p99_ms")
		b.ReportMetric(float64(p50.Microseconds())/1000, "query_p50_ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "query_p99_ms")
	}
}

// pipelineRates posts rows to an ingest process and returns the rows
// acknowledged and stored per second, both counted from the first post.
// The processes are stopped before it returns, so that what is measured
// next does not share the machine with them.
func pipelineRates(b *testing.B, batch, rows int) (ingested, stored float64) {
	c := requireCluster(b)
	ingest := c.start(b, "ingest")
	writer := c.start(b, "writer", "--writer-batch", fmt.Sprint(batch), "--writer-wait", "500ms")
	defer ingest.kill()
	defer writer.kill()
	conn := clickhouseConn(b, c)
	start := time.Now()
	postRows(b, ingest.base, rows)
	acked := time.Since(start)
	waitRows(b, conn, "progress_events", rows)
	elapsed := time.Since(start)
	return float64(rows) / acked.Seconds(), float64(rows) / elapsed.Seconds()
}

// plainInsertRate inserts rows like those postRows sends into a fresh
// database with clickhouse-go, 50,000 a batch, and returns rows/s.
func plainInsertRate(b *testing.B, rows int) float64 {
	c := requireCluster(b)
	c.start(b, "writer").kill() // creates the database and its tables
	conn := clickhouseConn(b, c)
	ctx := context.Background()
	start := time.Now()
	for done := 0; done < rows; done += 50_000 {
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO progress_events (tenant, task_id, event_id, timestamp, seq, ingest_order, user_id, task_type, task_name, status, progress, current_step, steps_done, steps_total, message, eta, error, attr_keys, attr_values, version)")
		require.NoError(b, err)
		now := time.Now()
		for i := done; i < done+50_000; i++ {
			progress := float64(i % 100)
			require.NoError(b, batch.Append("default", fmt.Sprintf("load-%d", i%1000), fmt.Sprintf("ev-%d", i), now.UnixMilli(), int64(i), now.UnixNano()+int64(i),
				"user-1", "scrape_docs", "Scrape documentation site", "running", &progress, "fetching pages", int64(i%100), int64(100),
				"fetched page of the documentation", (*int64)(nil), "", []string{"source", "region"}, []string{"loadgen", "local"}, uint64(1<<63)))
		}
		require.NoError(b, batch.Send())
	}
	return float64(rows) / time.Since(start).Seconds()
}

func clickhouseConn(tb testing.TB, c *cluster) ch.Conn {
	tb.Helper()
	conn, err := ch.Open(&ch.Options{Addr: []string{c.clickhouse}, Auth: ch.Auth{Database: c.database}})
	require.NoError(tb, err)
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// postRows posts n events in batches of 500 from 8 workers.
func postRows(tb testing.TB, base string, n int) {
	tb.Helper()
	const size, workers = 500, 8
	var body bytes.Buffer
	body.WriteByte('[')
	for i := 0; i < size; i++ {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"task_id":"load-%d","user_id":"user-%d","task_type":"scrape_docs","task_name":"Scrape documentation site","status":"running","progress":%d,"current_step":"fetching pages","steps_done":%d,"steps_total":100,"message":"fetched page %d of the documentation","attributes":{"source":"loadgen","region":"local"}}`, i, i%50, i%100, i%100, i)
	}
	body.WriteByte(']')
	requests := make(chan struct{}, n/size)
	for i := 0; i < n/size; i++ {
		requests <- struct{}{}
	}
	close(requests)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: time.Minute}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range requests {
				for {
					resp, err := client.Post(base+"/v1/progress", "application/json", bytes.NewReader(body.Bytes()))
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode == http.StatusAccepted {
							break
						}
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
}

func waitRows(tb testing.TB, conn ch.Conn, table string, n int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		var got uint64
		require.NoError(tb, conn.QueryRow(context.Background(), "SELECT count() FROM "+table).Scan(&got))
		if got >= uint64(n) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("%s never reached %d rows", table, n)
}

// measureLatencies posts n single events at 50/s and times each from its
// ack to its arrival on a WebSocket and to its visibility in the query API.
func measureLatencies(tb testing.TB, ingest, query, stream *process, n int) (ws [2]time.Duration, queryP50, queryP99 time.Duration) {
	tb.Helper()
	client := stream.dial(tb, "", "all=true")
	client.next(tb, "snapshot")
	// next set a read deadline; the run below takes longer.
	require.NoError(tb, client.conn.SetReadDeadline(time.Time{}))
	arrived := make(chan string, n)
	go func() {
		for {
			var msg struct {
				Type  string `json:"type"`
				Event struct {
					TaskID string `json:"task_id"`
				} `json:"event"`
			}
			if err := client.conn.ReadJSON(&msg); err != nil {
				return
			}
			if msg.Type == "progress" {
				arrived <- msg.Event.TaskID
			}
		}
	}()
	var wsLat, queryLat []time.Duration
	for i := 0; i < n; i++ {
		task := fmt.Sprintf("lat-%d", i)
		r := ingest.post(tb, "", event(task, 1, "running", 1))
		require.Equal(tb, http.StatusAccepted, r.status)
		acked := time.Now()
		select {
		case got := <-arrived:
			require.Equal(tb, task, got)
			wsLat = append(wsLat, time.Since(acked))
		case <-time.After(30 * time.Second):
			tb.Fatalf("event %s never reached the WebSocket", task)
		}
		for query.get(tb, "", "/v1/tasks/"+task).status != http.StatusOK {
			time.Sleep(2 * time.Millisecond)
		}
		queryLat = append(queryLat, time.Since(acked))
		time.Sleep(20 * time.Millisecond)
	}
	slices.Sort(wsLat)
	slices.Sort(queryLat)
	return [2]time.Duration{percentile(wsLat, 0.5), percentile(wsLat, 0.99)}, percentile(queryLat, 0.5), percentile(queryLat, 0.99)
}
