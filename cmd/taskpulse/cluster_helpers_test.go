package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
)

// requireKafkaCluster returns the brokers of a Kafka cluster of three or
// more (deploy/kafka.sh start --brokers 3) from
// TASKPULSE_KAFKA_CLUSTER_BROKERS, beside the shared servers.
func requireKafkaCluster(t testing.TB) []string {
	t.Helper()
	brokers := requireServers(t, "TASKPULSE_KAFKA_CLUSTER_BROKERS", "deploy/kafka.sh start --brokers 3")
	require.GreaterOrEqual(t, len(brokers), 3, "TASKPULSE_KAFKA_CLUSTER_BROKERS names fewer than three brokers")
	return brokers
}

// clickhouseShape is the cluster deploy/clickhouse.sh starts for the
// tests, as its arguments: node k is replica (k-1)%2+1 of shard (k-1)/2+1.
var clickhouseShape = []string{"--shards", "2", "--replicas", "2"}

// requireClickHouseCluster returns the servers of the ClickHouse cluster
// (deploy/clickhouse.sh start --shards 2 --replicas 2) from
// TASKPULSE_CLICKHOUSE_CLUSTER_ADDRS, node 1 first.
func requireClickHouseCluster(t testing.TB) []string {
	t.Helper()
	servers := requireServers(t, "TASKPULSE_CLICKHOUSE_CLUSTER_ADDRS", "deploy/clickhouse.sh start "+strings.Join(clickhouseShape, " "))
	require.Len(t, servers, 4, "TASKPULSE_CLICKHOUSE_CLUSTER_ADDRS names the four servers of two shards of two replicas")
	return servers
}

// requireServers returns the comma-separated servers in the environment
// variable env, which the deploy script run by start prints. Without them
// the test is skipped, except in CI, where it is a failure.
func requireServers(t testing.TB, env, start string) []string {
	t.Helper()
	s := os.Getenv(env)
	if s == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is not set: start the cluster with %s", env, start)
		}
		t.Skipf("set %s (%s) to run against the cluster", env, start)
	}
	return strings.Split(s, ",")
}

// deployScript runs one of the deploy/ scripts with extra environment and
// fails the test when it fails.
func deployScript(t testing.TB, env []string, script string, args ...string) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join("..", "..", "deploy", script)}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s: %s", script, strings.Join(args, " "), out)
}

// kafkaNode runs deploy/kafka.sh on one node of the cluster: node i is the
// i-th broker of the list, and the script finds the cluster's state from
// the first broker's port and TASKPULSE_KAFKA_DIR, as when it started it.
// A restarted broker loads every partition it holds before it answers,
// which takes minutes on a busy machine.
func kafkaNode(t testing.TB, brokers []string, verb string, node int) {
	t.Helper()
	_, port, _ := strings.Cut(brokers[0], ":")
	env := []string{"TASKPULSE_KAFKA_PORT=" + port, "TASKPULSE_KAFKA_WAIT=300"}
	deployScript(t, env, "kafka.sh", verb, fmt.Sprint(node), "--brokers", fmt.Sprint(len(brokers)))
}

// clickhouseNode kills or restarts node k of the ClickHouse cluster; the
// script finds the cluster from the first server's port. A restarted
// server loads every table before it answers, which takes a while on a
// busy machine.
func clickhouseNode(t testing.TB, servers []string, verb string, node int) {
	t.Helper()
	_, port, _ := strings.Cut(servers[0], ":")
	env := []string{"TASKPULSE_CLICKHOUSE_PORT=" + port, "TASKPULSE_CLICKHOUSE_WAIT=180"}
	deployScript(t, env, "clickhouse.sh", append([]string{verb, fmt.Sprint(node)}, clickhouseShape...)...)
}

// undo returns a function that runs step the first time it is called, for
// a test to restore what it broke both on its way and in t.Cleanup.
// Unlike sync.OnceFunc, a step that fails the test is not run again.
func undo(step func()) func() {
	done := false
	return func() {
		if !done {
			done = true
			step()
		}
	}
}

// scaledOut is one test's TaskPulse on the Kafka cluster and the
// ClickHouse cluster, with a topic prefix and a database of its own.
type scaledOut struct {
	*cluster
	brokers, servers []string
}

func requireScaledOut(t testing.TB) *scaledOut {
	t.Helper()
	brokers := requireKafkaCluster(t)
	servers := requireClickHouseCluster(t)
	// Every server, so that a process whose server dies goes on with the
	// next.
	s := &scaledOut{cluster: newCluster(t, strings.Join(brokers, ","), strings.Join(servers, ",")), brokers: brokers, servers: servers}
	// A server loads every table at start, so databases left behind would
	// slow each restart of the fault tests down.
	t.Cleanup(func() { dropDatabases(t, servers, s.database) })
	return s
}

// dropDatabases drops test databases from every server of the cluster.
func dropDatabases(t testing.TB, servers []string, names ...string) {
	conn, err := ch.Open(&ch.Options{Addr: servers, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Logf("drop databases %v: %v", names, err)
		return
	}
	defer conn.Close()
	for _, name := range names {
		if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" ON CLUSTER "+clickhouseCluster); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	}
}

// clickhouseCluster is the cluster deploy/clickhouse.sh defines.
const clickhouseCluster = "taskpulse"

// scaledOutFlags run a process on the clusters: topics of three replicas,
// two of which hold a record before it is acknowledged, and tables
// replicated within the shards of the ClickHouse cluster, read and written
// through Distributed tables.
var scaledOutFlags = []string{
	"--kafka-replication-factor", "3", "--kafka-min-insync-replicas", "2",
	"--clickhouse-cluster", clickhouseCluster,
}

func (s *scaledOut) start(t testing.TB, services string, extra ...string) *process {
	t.Helper()
	return s.cluster.start(t, services, append(slices.Clone(scaledOutFlags), extra...)...)
}

// twice starts two processes of the same services.
func (s *scaledOut) twice(t testing.TB, services string, extra ...string) [2]*process {
	t.Helper()
	return [2]*process{s.start(t, services, extra...), s.start(t, services, extra...)}
}

func bases(ps ...*process) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.base)
	}
	return out
}

// carefulLoad posts batches of events with ids of its own and, as a
// careful client does, posts a refused or unanswered batch again with the
// same ids until it is acknowledged, to the next ingest when it has
// several. A refused batch may still have reached Kafka, so its retry is a
// duplicate the pipeline must count once.
type carefulLoad struct {
	bases    []string
	mu       sync.Mutex
	accepted map[string]int // task id -> acknowledged events
	last     map[string]int // task id -> seq of its newest acknowledged event
	slowest  time.Duration  // longest from a batch's first post to its 202
	refused  atomic.Int64   // 503s and unanswered posts
	stop     chan struct{}
	wg       sync.WaitGroup
	// firstRefused and lastRefused bound the time ingest refused posts.
	firstRefused, lastRefused time.Time
}

// startCarefulLoad starts workers, each posting to one of bases in turn.
func startCarefulLoad(workers int, bases ...string) *carefulLoad {
	l := &carefulLoad{bases: bases, accepted: map[string]int{}, last: map[string]int{}, stop: make(chan struct{})}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			endpoint := w
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				task := fmt.Sprintf("cluster-%d-%d", w, i%40)
				items := make([]string, 20)
				for j := range items {
					items[j] = fmt.Sprintf(`{"task_id":%q,"event_id":"c%d-%d-%d","status":"running","progress":%d,"seq":%d}`, task, w, i, j, j*5, i*20+j)
				}
				took := l.postUntilAccepted(client, &endpoint, "["+strings.Join(items, ",")+"]")
				l.mu.Lock()
				l.accepted[task] += len(items)
				l.last[task] = i*20 + len(items) - 1
				l.slowest = max(l.slowest, took)
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// postUntilAccepted posts body to the ingest *endpoint names among
// l.bases, and to the next one after each refusal, until one acknowledges
// it.
func (l *carefulLoad) postUntilAccepted(client *http.Client, endpoint *int, body string) time.Duration {
	start := time.Now()
	for ; ; *endpoint++ {
		resp, err := client.Post(l.bases[*endpoint%len(l.bases)]+"/v1/progress", "application/json", strings.NewReader(body))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				return time.Since(start)
			}
		}
		l.refused.Add(1)
		l.mu.Lock()
		if l.firstRefused.IsZero() {
			l.firstRefused = time.Now()
		}
		l.lastRefused = time.Now()
		l.mu.Unlock()
		time.Sleep(200 * time.Millisecond)
	}
}

func (l *carefulLoad) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return sumCounts(l.accepted)
}

// waitMore waits until n more events than now are acknowledged.
func (l *carefulLoad) waitMore(t testing.TB, n int, within time.Duration, msg string) {
	t.Helper()
	before := l.total()
	require.Eventually(t, func() bool { return l.total() >= before+n }, within, 20*time.Millisecond, msg)
}

// finish waits for every batch in flight to be acknowledged.
func (l *carefulLoad) finish() map[string]int {
	close(l.stop)
	l.wg.Wait()
	return l.accepted
}

// refusals says when ingest refused posts, relative to since.
func (l *carefulLoad) refusals(since time.Time) string {
	if l.firstRefused.IsZero() {
		return "none refused"
	}
	return fmt.Sprintf("%d refused or unanswered from %s to %s", l.refused.Load(),
		l.firstRefused.Sub(since).Round(time.Millisecond), l.lastRefused.Sub(since).Round(time.Millisecond))
}

// queryWatch reads through query APIs every 100 ms until finished and
// keeps what went wrong with the reads that did not answer 200, and for
// how long.
type queryWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	errs   []string
	// down adds up, per process, the time from a failed read to the next
	// answered one; first and last bound the failures.
	down        time.Duration
	first, last time.Time
}

func watchQueries(t testing.TB, queries ...*process) *queryWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &queryWatch{cancel: cancel, done: make(chan struct{})}
	t.Cleanup(func() { w.finish() })
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, q := range queries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			var failingSince time.Time
			for ctx.Err() == nil {
				sent := time.Now()
				problem := ""
				resp, err := client.Get(q.base + "/v1/tasks?limit=10")
				switch {
				case err != nil:
					problem = err.Error()
				case resp.StatusCode != http.StatusOK:
					problem = resp.Status
				}
				if err == nil {
					resp.Body.Close()
				}
				mu.Lock()
				switch {
				case problem != "":
					w.errs = append(w.errs, problem)
					if w.first.IsZero() {
						w.first = sent
					}
					w.last = time.Now()
					if failingSince.IsZero() {
						failingSince = sent
					}
				case !failingSince.IsZero():
					w.down += time.Since(failingSince)
					failingSince = time.Time{}
				}
				mu.Unlock()
				time.Sleep(100 * time.Millisecond)
			}
			if !failingSince.IsZero() {
				mu.Lock()
				w.down += time.Since(failingSince)
				mu.Unlock()
			}
		}()
	}
	go func() {
		wg.Wait()
		close(w.done)
	}()
	return w
}

func (w *queryWatch) finish() *queryWatch {
	w.cancel()
	<-w.done
	return w
}

// summary says how reads fared, relative to since.
func (w *queryWatch) summary(since time.Time) string {
	if len(w.errs) == 0 {
		return "every read answered"
	}
	return fmt.Sprintf("%d reads failed between %s and %s (unanswered for %s in all; first: %s)", len(w.errs),
		w.first.Sub(since).Round(time.Millisecond), w.last.Sub(since).Round(time.Millisecond), w.down.Round(time.Millisecond), w.errs[0])
}

// freshness posts probes one at a time, each an event for every partition
// of the progress topic, so that each writer's share is probed, and times
// each from its 202 to the moment the query API shows all of its tasks:
// how stale reads are while a fault lasts.
type freshness struct {
	stop    context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	samples []freshSample
}

type freshSample struct {
	acked, visible time.Time
}

func watchFreshness(t testing.TB, s *scaledOut, query *process, ingests ...string) *freshness {
	partitions := partitionsOf(t, s.brokers, s.prefix+"progress")
	ctx, stop := context.WithCancel(context.Background())
	// abort ends even the probe in flight, when the test ends early.
	abort, cancel := context.WithCancel(context.Background())
	f := &freshness{stop: stop, done: make(chan struct{})}
	t.Cleanup(func() {
		cancel()
		f.finish()
	})
	probes := &carefulLoad{bases: ingests}
	go func() {
		defer close(f.done)
		client := &http.Client{Timeout: 10 * time.Second}
		endpoint := 0
		for i := 0; ctx.Err() == nil; i++ {
			tasks := tasksOnEachPartition(fmt.Sprintf("fresh-%d-", i), partitions)
			var events []string
			for _, task := range tasks {
				events = append(events, event(task, 1, "running", 1))
			}
			probes.postUntilAccepted(client, &endpoint, progressBody(events...))
			acked := time.Now()
			// A probe posted before the stop is followed to its end, so
			// the last one still says when data was queryable again.
			for _, task := range tasks {
				for !visible(client, query, task) {
					if abort.Err() != nil {
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			f.mu.Lock()
			f.samples = append(f.samples, freshSample{acked: acked, visible: time.Now()})
			f.mu.Unlock()
			time.Sleep(200 * time.Millisecond)
		}
	}()
	return f
}

// tasksOnEachPartition names one task per partition, as ingest keys
// progress by task id and the Kafka bus places keys with murmur2.
func tasksOnEachPartition(prefix string, partitions int) []string {
	all := make([]int, partitions)
	for i := range all {
		all[i] = i
	}
	byPartition := make([]string, partitions)
	for found, i := 0, 0; found < partitions; i++ {
		task := prefix + strconv.Itoa(i)
		p := (&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: []byte(task)}, all...)
		if byPartition[p] == "" {
			byPartition[p] = task
			found++
		}
	}
	return byPartition
}

func partitionsOf(t testing.TB, brokers []string, topic string) int {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	meta, err := client.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{topic}})
	require.NoError(t, err)
	require.Len(t, meta.Topics, 1)
	require.NoError(t, meta.Topics[0].Error)
	return len(meta.Topics[0].Partitions)
}

func visible(client *http.Client, query *process, task string) bool {
	resp, err := client.Get(query.base + "/v1/tasks/" + task)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitRecovered waits until an event acknowledged after since was
// queryable within stale of its 202.
func (f *freshness) waitRecovered(t testing.TB, since time.Time, stale, within time.Duration) {
	t.Helper()
	waitWithin(t, within, "data acknowledged after the fault is queryable within "+stale.String(), func() []string {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, s := range f.samples {
			if s.acked.After(since) && s.visible.Sub(s.acked) <= stale {
				return nil
			}
		}
		return []string{fmt.Sprintf("%d probes", len(f.samples))}
	})
}

func (f *freshness) finish() *freshness {
	f.stop()
	<-f.done
	return f
}

// summary gives the slowest ingest-to-queryable time and when, relative
// to since, data acknowledged from then on was queryable within stale
// again.
func (f *freshness) summary(since time.Time, stale time.Duration) string {
	var slowest time.Duration
	var again time.Time
	for _, s := range f.samples {
		took := s.visible.Sub(s.acked)
		slowest = max(slowest, took)
		if took > stale && s.acked.After(since.Add(-stale)) {
			again = s.visible
		}
	}
	if again.IsZero() {
		return fmt.Sprintf("%d probes, the slowest queryable %s after its 202, none over %s", len(f.samples), slowest.Round(time.Millisecond), stale)
	}
	return fmt.Sprintf("%d probes, the slowest queryable %s after its 202; queryable within %s again %s after the fault",
		len(f.samples), slowest.Round(time.Millisecond), stale, again.Sub(since).Round(time.Millisecond))
}

// follower is a WebSocket client that follows every task of the tenant on
// one stream process and keeps, per task, the event ids it was sent and
// the newest seq it knows, from snapshots and live events alike.
type follower struct {
	mu     sync.Mutex
	ids    map[string]map[string]bool
	newest map[string]int
	at     []time.Time   // when each live event arrived
	closed chan struct{} // closed when the connection ends
}

func newFollower() *follower {
	return &follower{ids: map[string]map[string]bool{}, newest: map[string]int{}}
}

// follow subscribes to every task on stream, waits for the snapshot, and
// reads on in the background until the connection ends.
func (f *follower) follow(t testing.TB, stream *process) {
	t.Helper()
	ws := stream.dial(t, "", "all=true")
	closed, snapshot := make(chan struct{}), make(chan struct{})
	f.closed = closed
	go func() {
		defer close(closed)
		var once sync.Once
		for {
			var msg struct {
				Type  string `json:"type"`
				Event struct {
					TaskID  string `json:"task_id"`
					EventID string `json:"event_id"`
					Seq     int    `json:"seq"`
				} `json:"event"`
				Tasks []struct {
					TaskID string `json:"task_id"`
					Seq    int    `json:"seq"`
				} `json:"tasks"`
			}
			if ws.conn.ReadJSON(&msg) != nil {
				return
			}
			f.mu.Lock()
			switch msg.Type {
			case "snapshot":
				for _, task := range msg.Tasks {
					f.newest[task.TaskID] = max(f.newest[task.TaskID], task.Seq)
				}
				once.Do(func() { close(snapshot) })
			case "progress":
				e := msg.Event
				if f.ids[e.TaskID] == nil {
					f.ids[e.TaskID] = map[string]bool{}
				}
				f.ids[e.TaskID][e.EventID] = true
				f.newest[e.TaskID] = max(f.newest[e.TaskID], e.Seq)
				f.at = append(f.at, time.Now())
			}
			f.mu.Unlock()
		}
	}()
	select {
	case <-snapshot:
	case <-closed:
		t.Fatalf("the stream at %s closed the connection before its snapshot", stream.base)
	case <-time.After(30 * time.Second):
		t.Fatalf("the stream at %s sent no snapshot within 30 s", stream.base)
	}
}

// waitEvery waits until the follower was sent every acknowledged event:
// per task, as many distinct event ids as accepted.
func (f *follower) waitEvery(t testing.TB, accepted map[string]int, name string) {
	t.Helper()
	waitFor(t, name+" was sent every acknowledged event", func() []string {
		f.mu.Lock()
		defer f.mu.Unlock()
		var short []string
		for task, n := range accepted {
			if len(f.ids[task]) != n {
				short = append(short, fmt.Sprintf("%s: %d of %d", task, len(f.ids[task]), n))
			}
		}
		return short
	})
}

// longestPause returns the longest time between since and until that
// the follower went without a live event, and when that time began.
func (f *follower) longestPause(since, until time.Time) (pause time.Duration, from time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	prev := since
	for _, at := range append(slices.Clone(f.at), until) {
		if at.Before(since) || at.After(until) {
			continue
		}
		if gap := at.Sub(prev); gap > pause {
			pause, from = gap, prev
		}
		prev = at
	}
	return pause, from
}

// waitNewest waits until the follower knows each task's newest
// acknowledged event.
func (f *follower) waitNewest(t testing.TB, last map[string]int, name string) {
	t.Helper()
	waitFor(t, name+" knows the newest event of every task", func() []string { return f.behind(last) })
}

// behind lists the tasks whose newest acknowledged event the follower
// does not know.
func (f *follower) behind(last map[string]int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var behind []string
	for task, seq := range last {
		if f.newest[task] != seq {
			behind = append(behind, fmt.Sprintf("%s at seq %d, not %d", task, f.newest[task], seq))
		}
	}
	return behind
}

// waitFor waits up to 90 s until check finds nothing wrong, then fails
// with what it found last.
func waitFor(t testing.TB, what string, check func() []string) {
	t.Helper()
	waitWithin(t, 90*time.Second, what, check)
}

// waitWithin is waitFor for up to d.
func waitWithin(t testing.TB, d time.Duration, what string, check func() []string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		wrong := check()
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			slices.Sort(wrong)
			t.Fatalf("%s: not so for %d, such as %v", what, len(wrong), wrong[:min(len(wrong), 5)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// groupLag returns how many records of topic the consumer group has not
// committed yet.
func groupLag(t testing.TB, brokers []string, group, topic string) int64 {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	ctx := context.Background()
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	require.NoError(t, err)
	var ids []int
	var req []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		ids = append(ids, p.ID)
		req = append(req, kafka.LastOffsetOf(p.ID))
	}
	ends, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
	require.NoError(t, err)
	committed, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
	require.NoError(t, err)
	done := map[int]int64{}
	for _, p := range committed.Topics[topic] {
		require.NoError(t, p.Error)
		done[p.Partition] = max(p.CommittedOffset, 0)
	}
	var lag int64
	for _, p := range ends.Topics[topic] {
		require.NoError(t, p.Error)
		lag += p.LastOffset - done[p.Partition]
	}
	return lag
}

// scrape returns the metrics a process serves.
func scrape(t testing.TB, p *process) string {
	t.Helper()
	resp, err := http.Get(p.base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
