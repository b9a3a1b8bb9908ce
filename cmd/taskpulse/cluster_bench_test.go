package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// BenchmarkPipelineClusters is PipelineKafkaClickHouse on the clusters: rows
// from HTTP through three Kafka brokers into two shards of two ClickHouse
// replicas, with one writer and with two in one consumer group, each run
// followed by a plain clickhouse-go insert of as many rows into the
// Distributed table (x_plain is the ratio); the CPU seconds each part of
// the pipeline spent, to say what limits it on this machine; and the
// latency from an ingest ack to the WebSocket and to the query API.
//
//	TASKPULSE_KAFKA_CLUSTER_BROKERS=127.0.0.1:29092,127.0.0.1:29094,127.0.0.1:29096 \
//	TASKPULSE_CLICKHOUSE_CLUSTER_ADDRS=127.0.0.1:29000,127.0.0.1:29003,127.0.0.1:29006,127.0.0.1:29009 \
//	  go test -run '^$' -bench PipelineClusters -benchtime 1x ./cmd/taskpulse/
//
// With TASKPULSE_BENCH_PROFILES=DIR it also saves a CPU profile of each
// writer over the first ten seconds of the load, as DIR/writers=N-I.pprof.
func BenchmarkPipelineClusters(b *testing.B) {
	const rows = 100_000
	onClusters(b)
	for _, writers := range []int{1, 2} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			for range b.N {
				ingested, stored, cpu := clusterPipelineRate(b, writers, rows)
				plain := plainInsertRate(b, rows)
				b.ReportMetric(ingested, "ingest_rows/s")
				b.ReportMetric(stored, "stored_rows/s")
				b.ReportMetric(plain, "plain_rows/s")
				b.ReportMetric(stored/plain, "x_plain")
				for part, seconds := range cpu {
					b.ReportMetric(seconds, "cpu_s_"+part)
				}
			}
		})
	}
	b.Run("latency", func(b *testing.B) { reportLatencies(b, nil, nil) })
}

// onClusters points every process the benchmark starts, and the helpers of
// PipelineKafkaClickHouse it shares, at the clusters, through the
// environment every TaskPulse setting is read from: the Kafka cluster as
// the brokers, its first ClickHouse server as the address (the Distributed
// tables are on every server), and the cluster settings of scaledOutFlags.
// The databases the benchmark made are dropped at its end.
func onClusters(b *testing.B) {
	brokers := requireKafkaCluster(b)
	servers := requireClickHouseCluster(b)
	before := testDatabases(b, servers[0])
	b.Cleanup(func() {
		var made []string
		for _, name := range testDatabases(b, servers[0]) {
			if !slices.Contains(before, name) {
				made = append(made, name)
			}
		}
		dropDatabases(b, servers, made...)
	})
	b.Setenv("TASKPULSE_KAFKA_BROKERS", strings.Join(brokers, ","))
	b.Setenv("TASKPULSE_CLICKHOUSE_ADDR", servers[0])
	for i := 0; i+1 < len(scaledOutFlags); i += 2 {
		b.Setenv("TASKPULSE_"+strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(scaledOutFlags[i], "--"), "-", "_")), scaledOutFlags[i+1])
	}
}

// clusterPipelineRate posts rows to an ingest process with writers writer
// processes draining Kafka into ClickHouse, and returns the rows
// acknowledged and stored per second, both from the first post, and the
// CPU seconds each part of the pipeline spent meanwhile.
func clusterPipelineRate(b *testing.B, writers, rows int) (ingested, stored float64, cpu map[string]float64) {
	c := requireCluster(b)
	parts := map[string][]int{"ingest": nil, "writers": nil, "kafka": serverPids(b, "TASKPULSE_KAFKA_DIR", "/tmp/taskpulse-kafka-cluster", "kafka.pid")}
	parts["clickhouse"] = serverPids(b, "TASKPULSE_CLICKHOUSE_DIR", "/tmp/taskpulse-clickhouse-cluster", "clickhouse.pid")
	ingest := c.start(b, "ingest")
	defer ingest.kill()
	parts["ingest"] = []int{ingest.cmd.Process.Pid}
	profiles := os.Getenv("TASKPULSE_BENCH_PROFILES")
	var pprofAddrs []string
	for i := range writers {
		extra := []string{"--writer-batch", "10000", "--writer-wait", "500ms"}
		if profiles != "" {
			pprofAddrs = append(pprofAddrs, "127.0.0.1:"+strconv.Itoa(freePort(b)))
			extra = append(extra, "--pprof-addr", pprofAddrs[i])
		}
		w := c.start(b, "writer", extra...)
		defer w.kill()
		parts["writers"] = append(parts["writers"], w.cmd.Process.Pid)
	}
	conn := clickhouseConn(b, c)
	before := cpuSeconds(b, parts)
	start := time.Now()
	for i, addr := range pprofAddrs {
		go saveProfile(b, "http://"+addr+"/debug/pprof/profile?seconds=10", filepath.Join(profiles, fmt.Sprintf("writers=%d-%d.pprof", writers, i+1)))
	}
	postRows(b, ingest.base, rows)
	acked := time.Since(start)
	waitRows(b, conn, "progress_events", rows)
	elapsed := time.Since(start)
	cpu = cpuSeconds(b, parts)
	for part := range cpu {
		cpu[part] -= before[part]
	}
	return float64(rows) / acked.Seconds(), float64(rows) / elapsed.Seconds(), cpu
}

// saveProfile writes what url serves to path, or logs why it could not.
func saveProfile(tb testing.TB, url, path string) {
	resp, err := http.Get(url)
	if err != nil {
		tb.Logf("profile %s: %v", url, err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		tb.Logf("profile %s: %v", path, err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		tb.Logf("profile %s: %v", url, err)
	}
}

// serverPids reads the pid files of a deploy script's cluster, node-N/file
// under its state directory.
func serverPids(b *testing.B, dirVar, dir, file string) []int {
	files, _ := filepath.Glob(filepath.Join(cmp.Or(os.Getenv(dirVar), dir), "node-*", file))
	var pids []int
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil {
			b.Fatalf("%s: %v", f, err)
		}
		pids = append(pids, pid)
	}
	if len(pids) == 0 {
		b.Fatalf("no %s under %s: set %s to the cluster's state directory", file, dir, dirVar)
	}
	return pids
}

// cpuSeconds adds up the user and system CPU time of each part's
// processes, from /proc/PID/stat, and the time the whole machine was busy.
func cpuSeconds(b *testing.B, parts map[string][]int) map[string]float64 {
	const ticks = 100 // USER_HZ, 100 on Linux
	out := map[string]float64{}
	for part, pids := range parts {
		for _, pid := range pids {
			raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				b.Fatal(err)
			}
			// The fields after the command name, which is in parentheses.
			fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
			utime, _ := strconv.ParseFloat(fields[11], 64)
			stime, _ := strconv.ParseFloat(fields[12], 64)
			out[part] += (utime + stime) / ticks
		}
	}
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	// cpu  user nice system idle iowait irq softirq ...: busy is all but
	// idle and iowait.
	fields := strings.Fields(strings.SplitN(string(raw), "\n", 2)[0])[1:]
	for i, f := range fields {
		v, _ := strconv.ParseFloat(f, 64)
		if i != 3 && i != 4 {
			out["machine"] += v / ticks
		}
	}
	return out
}

// testDatabases lists the databases tests made on a server.
func testDatabases(b *testing.B, server string) []string {
	conn, err := ch.Open(&ch.Options{Addr: []string{server}})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query(context.Background(), "SELECT name FROM system.databases WHERE startsWith(name, 'tp_test_')")
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			b.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}
