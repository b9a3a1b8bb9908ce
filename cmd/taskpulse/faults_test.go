package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// dedicated runs a deploy script's server on its own ports and directory,
// so a test can stop and restart it without disturbing tests that share
// the main servers.
type dedicated struct {
	script string
	env    []string
	addr   string
}

func startDedicated(t *testing.T, script, prefix string, ports int) *dedicated {
	t.Helper()
	requireCluster(t) // the same machines that run the shared servers run these
	env := append(os.Environ(), prefix+"_DIR="+filepath.Join(t.TempDir(), "state"))
	names := []string{"PORT", "HTTP_PORT", "CONTROLLER_PORT"}
	var port int
	for i := 0; i < ports; i++ {
		p := freePort(t)
		if i == 0 {
			port = p
		}
		env = append(env, prefix+"_"+names[i]+"="+strconv.Itoa(p))
	}
	d := &dedicated{script: filepath.Join("..", "..", "deploy", script), env: env, addr: "127.0.0.1:" + strconv.Itoa(port)}
	d.run(t, "start")
	t.Cleanup(func() { d.run(t, "stop") })
	return d
}

func (d *dedicated) run(t *testing.T, verb string) {
	t.Helper()
	cmd := exec.Command("bash", d.script, verb)
	cmd.Env = d.env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s: %s", d.script, verb, out)
}

// freePort returns a loopback port no one listens on.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestClickHouseOutageLosesNothing(t *testing.T) {
	shared := requireCluster(t)
	ch := startDedicated(t, "clickhouse.sh", "TASKPULSE_CLICKHOUSE", 2)
	c := newCluster(t, shared.brokers, ch.addr)
	ingest := c.start(t, "ingest")
	c.start(t, "writer")
	load := startLoad(ingest.base, 2)
	require.Eventually(t, func() bool { return load.total() > 1000 }, 30*time.Second, 10*time.Millisecond)

	ch.run(t, "stop")
	during := load.total()
	time.Sleep(30 * time.Second) // the outage itself, under load
	require.Greater(t, load.total(), during+1000, "ingest keeps accepting while ClickHouse is down")
	ch.run(t, "start")

	accepted := load.finish()
	query := c.start(t, "query")
	t.Logf("accepted %d events; %d requests refused", load.total(), load.rejected.Load())
	waitCounts(t, query, accepted)
}

func TestKafkaDownGives503AndRecovers(t *testing.T) {
	shared := requireCluster(t)
	kafka := startDedicated(t, "kafka.sh", "TASKPULSE_KAFKA", 3)
	c := newCluster(t, kafka.addr, shared.clickhouse)
	ingest := c.start(t, "ingest", "--kafka-write-timeout", "3s")
	query := c.start(t, "query")
	c.start(t, "writer")

	// Like a careful client, each event keeps its event_id across retries:
	// a refused request may still reach Kafka later, and the id makes its
	// retry a duplicate that the store removes.
	withID := func(seq, progress int) string {
		return fmt.Sprintf(`{"event_id":"kd-%d","task_id":"kd","status":"running","progress":%d,"seq":%d}`, seq, progress, seq)
	}
	require.Equal(t, http.StatusAccepted, ingest.post(t, "", withID(1, 10)).status)
	kafka.run(t, "stop")

	r := ingest.post(t, "", withID(2, 20))
	require.Equal(t, http.StatusServiceUnavailable, r.status, r.body)
	require.NotEmpty(t, r.header.Get("Retry-After"))
	require.Equal(t, "unavailable", r.body["error"].(map[string]any)["code"])

	kafka.run(t, "start")
	require.Eventually(t, func() bool {
		return ingest.post(t, "", withID(3, 30)).status == http.StatusAccepted
	}, 60*time.Second, 500*time.Millisecond, "ingest recovers by itself")

	// Event 2 was refused, not acknowledged: the producer may still have
	// delivered it after Kafka came back, so it may or may not be there.
	// Events 1 and 3 are, once each.
	var seqs []string
	require.Eventually(t, func() bool {
		r := query.get(t, "", "/v1/tasks/kd/events")
		if r.status != http.StatusOK {
			return false
		}
		seqs = seqs[:0]
		events, _ := r.body["events"].([]any)
		for _, e := range events {
			if seq := int(e.(map[string]any)["seq"].(float64)); seq != 2 {
				seqs = append(seqs, strconv.Itoa(seq))
			}
		}
		return len(seqs) >= 2
	}, 30*time.Second, 50*time.Millisecond, "events 1 and 3 reach the store")
	require.Equal(t, "1,3", strings.Join(seqs, ","))
	// The task's state is read from other tables than its events, and a
	// loaded store may answer 503 for a moment: read it as a client would.
	var task response
	require.Eventually(t, func() bool {
		task = query.get(t, "", "/v1/tasks/kd")
		return task.status == http.StatusOK && task.body["progress"] == float64(30)
	}, 30*time.Second, 100*time.Millisecond, "the task never showed event 3's progress: %d %v", task.status, task.body)
}
