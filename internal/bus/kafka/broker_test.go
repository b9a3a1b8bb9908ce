package kafka

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"
)

// The tests run against TASKPULSE_KAFKA_BROKERS when it is set, and
// otherwise against one in-process kfake cluster shared by the package, so
// a plain `go test` exercises the Kafka wire protocol with no service. In
// CI a missing broker is a failure, since CI must test the real one.
var (
	fakeOnce    sync.Once
	fakeCluster *kfake.Cluster
	fakeErr     error
)

// TestMain checks, after every test, that Close left no goroutine behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if fakeCluster != nil {
		fakeCluster.Close()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines left behind: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func testBrokers(t testing.TB) []string {
	t.Helper()
	if s := os.Getenv("TASKPULSE_KAFKA_BROKERS"); s != "" {
		return strings.Split(s, ",")
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("TASKPULSE_KAFKA_BROKERS is not set: CI must test the Kafka bus against a real broker (deploy/kafka.sh start)")
	}
	fakeOnce.Do(func() {
		fakeCluster, fakeErr = kfake.NewCluster(kfake.NumBrokers(1))
	})
	if fakeErr != nil {
		t.Fatalf("cannot start kfake cluster: %v", fakeErr)
	}
	return fakeCluster.ListenAddrs()
}

// testConfig returns a Config for the test brokers with small partitions,
// so topic creation stays cheap.
func testConfig(t testing.TB) Config {
	t.Helper()
	return Config{Brokers: testBrokers(t), Partitions: 3}
}

func openTest(t testing.TB, cfg Config, opts ...Option) *Bus {
	t.Helper()
	b, err := Open(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatalf("cannot open bus: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("cannot close bus: %v", err)
		}
		deleteTopics(t, b)
	})
	return b
}

// deleteTopics deletes the topics b created on a real broker, so repeated
// test runs do not pile up partitions that slow every broker restart.
func deleteTopics(t testing.TB, b *Bus) {
	t.Helper()
	if os.Getenv("TASKPULSE_KAFKA_BROKERS") == "" {
		return
	}
	topics := slices.Collect(maps.Keys(b.topics.known))
	if len(topics) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The bus is closed: a transport of its own is needed, closed after.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	admin := &kafka.Client{Addr: kafka.TCP(b.cfg.Brokers...), Transport: tr}
	if _, err := admin.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics}); err != nil {
		t.Logf("cannot delete test topics: %v", err)
	}
}

// randomName returns a topic or group name no other test uses, so tests
// against a long-lived broker do not see each other's records.
func randomName(prefix string) string {
	return prefix + "-" + strings.ToLower(rand.Text()[:12])
}

// testContext returns a context that ends before the test's deadline.
func testContext(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
