package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
)

// cluster is one test's view of real Kafka and ClickHouse: its own topic
// prefix and database, so tests share the servers without seeing each
// other's data.
type cluster struct {
	brokers, clickhouse string
	prefix, database    string
}

func newCluster(t testing.TB, brokers, clickhouseAddr string) *cluster {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	c := &cluster{brokers: brokers, clickhouse: clickhouseAddr, prefix: "t" + id + "-", database: "tp_test_" + id}
	t.Cleanup(func() { c.deleteTopics(t) })
	return c
}

// deleteTopics deletes the topics of the cluster's prefix, once its
// processes are gone: the partitions of every run's topics would pile up
// on the long-lived brokers and slow each broker's restart.
func (c *cluster) deleteTopics(t testing.TB) {
	if c.brokers == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	admin := &kafka.Client{Addr: kafka.TCP(strings.Split(c.brokers, ",")...), Transport: tr}
	meta, err := admin.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		t.Logf("cannot list test topics: %v", err)
		return
	}
	var topics []string
	for _, topic := range meta.Topics {
		if strings.HasPrefix(topic.Name, c.prefix) {
			topics = append(topics, topic.Name)
		}
	}
	if len(topics) == 0 {
		return
	}
	if _, err := admin.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics}); err != nil {
		t.Logf("cannot delete test topics: %v", err)
	}
}

// requireCluster returns the servers from TASKPULSE_KAFKA_BROKERS and
// TASKPULSE_CLICKHOUSE_ADDR. Without them the test is skipped, except in
// CI, where a missing service is a failure.
func requireCluster(t testing.TB) *cluster {
	t.Helper()
	brokers, ch := os.Getenv("TASKPULSE_KAFKA_BROKERS"), os.Getenv("TASKPULSE_CLICKHOUSE_ADDR")
	if brokers == "" || ch == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but TASKPULSE_KAFKA_BROKERS or TASKPULSE_CLICKHOUSE_ADDR is not set: start them with deploy/kafka.sh and deploy/clickhouse.sh")
		}
		t.Skip("set TASKPULSE_KAFKA_BROKERS and TASKPULSE_CLICKHOUSE_ADDR (deploy/kafka.sh, deploy/clickhouse.sh) to run against Kafka and ClickHouse")
	}
	return newCluster(t, brokers, ch)
}

// start runs one taskpulse process with the given services on the cluster.
func (c *cluster) start(t testing.TB, services string, extra ...string) *process {
	t.Helper()
	args := append([]string{
		"--services", services, "--bus", "kafka", "--store", "clickhouse",
		"--kafka-brokers", c.brokers, "--kafka-topic-prefix", c.prefix,
		"--clickhouse-addr", c.clickhouse, "--clickhouse-database", c.database,
		"--writer-wait", "50ms",
	}, extra...)
	return startBinary(t, t.TempDir(), args...)
}

// startBinary runs the built binary with args on a free loopback port and
// waits until it is ready.
func startBinary(t testing.TB, dir string, args ...string) *process {
	t.Helper()
	bin, err := buildBinary()
	require.NoError(t, err)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cmd := exec.Command(bin, append([]string{"serve", "--listen", addr, "--data-dir", dir}, args...)...)
	cmd.Stderr = &prefixWriter{t: t, prefix: strings.Join(args[:2], " ")}
	require.NoError(t, cmd.Start())
	// A killed consumer keeps its partitions until its Kafka session times
	// out, so waits on the pipeline get more time here.
	p := &process{server: &server{base: "http://" + addr, dir: dir, patience: 90 * time.Second}, cmd: cmd}
	t.Cleanup(p.kill)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, waitReady(ctx, p.base))
	return p
}

func (p *process) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

// prefixWriter sends a child's log to the test log, so a failure shows
// what each process said.
type prefixWriter struct {
	t      testing.TB
	prefix string
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		w.t.Log(w.prefix + ": " + line)
	}
	return len(b), nil
}

func TestDistributedPipelineAcrossProcesses(t *testing.T) {
	c := requireCluster(t)
	writer := c.start(t, "writer")
	ingest := c.start(t, "ingest")
	query := c.start(t, "query")
	stream := c.start(t, "stream")
	_ = writer

	ws := stream.dial(t, "", "task_id=dist-1")
	ws.next(t, "snapshot")
	for i, progress := range []int{10, 40, 80} {
		r := ingest.post(t, "", event("dist-1", i+1, "running", progress))
		require.Equal(t, http.StatusAccepted, r.status, r.body)
	}
	require.Equal(t, http.StatusAccepted, ingest.post(t, "", event("dist-1", 4, "completed", 100)).status)

	for i := 1; i <= 4; i++ {
		ev := ws.next(t, "progress")["event"].(map[string]any)
		require.Equal(t, float64(i), ev["seq"], "per-task order from ingest to WebSocket")
	}
	task := query.waitTask(t, "", "dist-1", "completed", 4)
	require.Equal(t, float64(100), task["progress"])
	require.Len(t, query.get(t, "", "/v1/tasks/dist-1/events").body["events"], 4)
}

// loadClient posts events with client-chosen ids from several goroutines
// until stopped, and remembers which were accepted.
type loadClient struct {
	base     string
	mu       sync.Mutex
	accepted map[string]int // task id -> accepted events
	rejected atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startLoad(base string, workers int) *loadClient {
	l := &loadClient{base: base, accepted: map[string]int{}, stop: make(chan struct{})}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				task := fmt.Sprintf("load-%d-%d", w, i%50)
				var items []string
				for j := 0; j < 20; j++ {
					items = append(items, fmt.Sprintf(`{"task_id":%q,"event_id":"w%d-i%d-j%d","status":"running","progress":%d,"seq":%d}`, task, w, i, j, j*5, i*20+j))
				}
				resp, err := client.Post(l.base+"/v1/progress", "application/json", strings.NewReader("["+strings.Join(items, ",")+"]"))
				if err != nil {
					l.rejected.Add(1)
					time.Sleep(50 * time.Millisecond)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					l.rejected.Add(1)
					time.Sleep(50 * time.Millisecond)
					continue
				}
				l.mu.Lock()
				l.accepted[task] += len(items)
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *loadClient) finish() map[string]int {
	close(l.stop)
	l.wg.Wait()
	return l.accepted
}

func (l *loadClient) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return sumCounts(l.accepted)
}

// sumCounts is the number of events accepted over all tasks.
func sumCounts(accepted map[string]int) int {
	n := 0
	for _, v := range accepted {
		n += v
	}
	return n
}

// waitCounts waits until the query API counts exactly the accepted events
// of every task, in the task state and in its timeline.
func waitCounts(t *testing.T, query *process, accepted map[string]int) {
	t.Helper()
	for task, n := range accepted {
		query.waitTask(t, "", task, "running", n)
		got := 0
		cursor := ""
		for {
			r := query.get(t, "", "/v1/tasks/"+task+"/events?limit=1000&cursor="+cursor)
			require.Equal(t, http.StatusOK, r.status, r.body)
			got += len(r.body["events"].([]any))
			if cursor = r.body["next_cursor"].(string); cursor == "" {
				break
			}
		}
		require.Equal(t, n, got, "timeline of %s counts every accepted event once", task)
	}
}

func TestWriterKilledUnderLoadLosesAndDoublesNothing(t *testing.T) {
	c := requireCluster(t)
	ingest := c.start(t, "ingest")
	query := c.start(t, "query")
	writer := c.start(t, "writer", "--writer-batch", "2000")
	load := startLoad(ingest.base, 4)

	for kill := 0; kill < 3; kill++ {
		before := load.total()
		require.Eventually(t, func() bool { return load.total() > before+2000 }, 30*time.Second, 10*time.Millisecond)
		writer.kill()
		writer = c.start(t, "writer", "--writer-batch", "2000")
	}
	accepted := load.finish()
	t.Logf("accepted %d events over %d tasks; %d requests refused", load.total(), len(accepted), load.rejected.Load())
	waitCounts(t, query, accepted)
}
