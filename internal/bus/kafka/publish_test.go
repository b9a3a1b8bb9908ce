package kafka

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/taskpulse/taskpulse/internal/bus"
)

func TestWriterConfig(t *testing.T) {
	b := openTest(t, Config{Brokers: []string{"127.0.0.1:1"}, BatchTimeout: 3 * time.Millisecond})
	w := b.writer
	if w.RequiredAcks != kafka.RequireAll {
		t.Errorf("RequiredAcks = %v, want RequireAll: a record is acknowledged only once every in-sync replica has it", w.RequiredAcks)
	}
	if w.Async {
		t.Error("writer is asynchronous: Publish must return only after the brokers acknowledged")
	}
	if _, ok := w.Balancer.(*kafka.Murmur2Balancer); !ok {
		t.Errorf("Balancer = %T, want *kafka.Murmur2Balancer, which hashes keys as Java clients do", w.Balancer)
	}
	if w.BatchTimeout != 3*time.Millisecond {
		t.Errorf("BatchTimeout = %s, want the configured 3ms", w.BatchTimeout)
	}
	if w.Compression != kafka.Lz4 {
		t.Errorf("Compression = %v, want the default lz4", w.Compression)
	}
}

// TestMessages checks that records sharing a topic and headers, as one
// request's do, become messages with the right topic and headers each,
// however the runs of equal ones fall.
func TestMessages(t *testing.T) {
	b := &Bus{cfg: Config{TopicPrefix: "p."}}
	shared := map[string]string{"traceparent": "00-a", "tenant": "t1"}
	recs := []bus.Record{
		{Topic: "progress", Key: []byte("k1"), Value: []byte("v1"), Headers: shared},
		{Topic: "progress", Key: []byte("k2"), Value: []byte("v2"), Headers: map[string]string{"tenant": "t1", "traceparent": "00-a"}},
		{Topic: "logs", Key: []byte("k3"), Value: []byte("v3"), Headers: shared},
		{Topic: "logs", Key: []byte("k4"), Value: []byte("v4")},
		{Topic: "progress", Key: []byte("k5"), Value: []byte("v5"), Headers: map[string]string{"tenant": "t2"}},
	}
	topics, msgs := b.messages(recs)
	if want := []string{"p.progress", "p.logs", "p.progress"}; !slices.Equal(topics, want) {
		t.Errorf("topics = %v, want %v", topics, want)
	}
	if len(msgs) != len(recs) {
		t.Fatalf("%d messages for %d records", len(msgs), len(recs))
	}
	for i, m := range msgs {
		r := recs[i]
		if m.Topic != "p."+r.Topic || string(m.Key) != string(r.Key) || string(m.Value) != string(r.Value) {
			t.Errorf("message %d = %s %s %s, want %s %s %s", i, m.Topic, m.Key, m.Value, "p."+r.Topic, r.Key, r.Value)
		}
		got := map[string]string{}
		for _, h := range m.Headers {
			got[h.Key] = string(h.Value)
		}
		if len(m.Headers) != len(r.Headers) || !maps.Equal(got, r.Headers) {
			t.Errorf("message %d headers = %v, want %v", i, m.Headers, r.Headers)
		}
	}
}

// TestPublishUnavailable checks that Publish gives up within its write
// timeout with bus.ErrUnavailable when no broker answers, so ingest can
// answer 503 instead of hanging.
func TestPublishUnavailable(t *testing.T) {
	const writeTimeout = 2 * time.Second
	f := func(t *testing.T, brokers []string, topic string) {
		t.Helper()
		b := openTest(t, Config{Brokers: brokers, Partitions: 1, WriteTimeout: writeTimeout})
		start := time.Now()
		err := b.Publish(context.Background(), bus.Record{Topic: topic, Key: []byte("k"), Value: []byte("v")})
		took := time.Since(start)
		if !errors.Is(err, bus.ErrUnavailable) {
			t.Fatalf("Publish error = %v, want bus.ErrUnavailable", err)
		}
		// The bound leaves room for a connection attempt that started just
		// before the deadline and for a slow machine.
		if took > writeTimeout+5*time.Second {
			t.Fatalf("Publish took %s, want about the write timeout %s", took, writeTimeout)
		}
		t.Logf("Publish failed after %s: %v", took, err)
	}

	t.Run("nothing listening", func(t *testing.T) {
		f(t, []string{closedPort(t)}, "progress")
	})

	t.Run("cluster went away", func(t *testing.T) {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			t.Fatalf("cannot start kfake cluster: %v", err)
		}
		brokers := c.ListenAddrs()
		b := openTest(t, Config{Brokers: brokers, Partitions: 1, WriteTimeout: writeTimeout})
		topic := randomName("gone")
		if err := b.Publish(testContext(t, 10*time.Second), bus.Record{Topic: topic, Value: []byte("before")}); err != nil {
			t.Fatalf("Publish before the cluster closed: %v", err)
		}
		c.Close()
		start := time.Now()
		err = b.Publish(context.Background(), bus.Record{Topic: topic, Value: []byte("after")})
		if !errors.Is(err, bus.ErrUnavailable) {
			t.Fatalf("Publish error = %v, want bus.ErrUnavailable", err)
		}
		took := time.Since(start)
		if took > writeTimeout+5*time.Second {
			t.Fatalf("Publish took %s, want about the write timeout %s", took, writeTimeout)
		}
		t.Logf("Publish to a known topic failed after %s: %v", took, err)
		// A bus with no cluster at all fails the same way.
		f(t, brokers, randomName("never"))
	})
}

// TestUnavailable checks which errors tell ingest to answer 503: a single
// broker cannot produce NOT_ENOUGH_REPLICAS (Kafka caps min.insync.replicas
// at the replication factor), so the classification is checked directly.
func TestUnavailable(t *testing.T) {
	f := func(err error, want bool) {
		t.Helper()
		if got := unavailable(fmt.Errorf("cannot write: %w", err)); got != want {
			t.Errorf("unavailable(%v) = %v, want %v", err, got, want)
		}
	}
	f(kafka.NotEnoughReplicas, true)
	f(kafka.NotEnoughReplicasAfterAppend, true)
	f(kafka.LeaderNotAvailable, true)
	f(kafka.NotLeaderForPartition, true)
	f(kafka.RequestTimedOut, true)
	f(kafka.BrokerNotAvailable, true)
	f(kafka.KafkaStorageError, true)
	f(context.DeadlineExceeded, true)
	f(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true)
	f(syscall.ECONNRESET, true)
	f(io.ErrUnexpectedEOF, true)
	f(kafka.MessageSizeTooLarge, false)
	f(kafka.InvalidTopic, false)
	f(kafka.TopicAuthorizationFailed, false)
	f(kafka.SASLAuthenticationFailed, false)
	f(errors.New("something else"), false)
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cannot listen: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("cannot close listener: %v", err)
	}
	return addr
}

func TestPublishAfterClose(t *testing.T) {
	b, err := Open(context.Background(), testConfig(t))
	if err != nil {
		t.Fatalf("cannot open bus: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Publish(context.Background(), bus.Record{Topic: "progress"}); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Publish after Close = %v, want bus.ErrClosed", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

// BenchmarkPublish measures synchronous Publish calls of 1, 100 and 500
// records of ~330 bytes from parallel publishers, as ingest makes them, and
// reports records per second.
func BenchmarkPublish(b *testing.B) {
	for _, size := range []int{1, 100, 500} {
		for _, publishers := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("batch=%d/publishers=%d", size, publishers), func(b *testing.B) {
				benchmarkPublish(b, size, publishers)
			})
		}
	}
}

func benchmarkPublish(b *testing.B, size, publishers int) {
	cfg := testConfig(b)
	cfg.Partitions = 6
	bs := openTest(b, cfg)
	topic := randomName("bench")
	values := benchValues(1000)
	ctx := context.Background()
	if err := bs.Publish(ctx, bus.Record{Topic: topic, Value: values[0]}); err != nil {
		b.Fatalf("cannot publish: %v", err)
	}
	var calls, keys atomic.Int64
	var wg sync.WaitGroup
	b.SetBytes(int64(size * len(values[0])))
	b.ResetTimer()
	for range publishers {
		wg.Go(func() {
			recs := make([]bus.Record, size)
			for calls.Add(1) <= int64(b.N) {
				for i := range recs {
					n := keys.Add(1) % int64(len(values))
					recs[i] = bus.Record{Topic: topic, Key: fmt.Appendf(nil, "task-%d", n), Value: values[n]}
				}
				if err := bs.Publish(ctx, recs...); err != nil {
					b.Errorf("cannot publish: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "records/s")
}

// benchValues returns n progress events of 330 bytes, each with random ids
// and text, so compression gains about what it gains on real events rather
// than on one repeated value.
func benchValues(n int) [][]byte {
	values := make([][]byte, n)
	for i := range values {
		v := fmt.Appendf(nil, `{"task_id":"task-%d","event_id":"%s","status":"running","progress":%d,"message":"step %s"}`,
			i, rand.Text(), i%100, rand.Text())
		for len(v) < 330 {
			v = append(v, ' ')
		}
		values[i] = v[:330]
	}
	return values
}
