package embedded

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/bus/bustest"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		publishUntilKilled(dir)
		return
	}
	goleak.VerifyTestMain(m)
}

func TestConformance(t *testing.T) {
	f := func(name string, opts Options) {
		t.Run(name, func(t *testing.T) {
			bustest.Run(t, func(t testing.TB) bus.Bus {
				b, err := Open(t.TempDir(), opts)
				require.NoError(t, err)
				return b
			})
		})
	}
	f("default", Options{})
	// Tiny segments make every scenario cross segment boundaries.
	f("small-segments", Options{SegmentBytes: 256})
}

func openTest(t testing.TB, dir string, opts Options) *Bus {
	t.Helper()
	b, err := Open(dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func publishValues(t testing.TB, b *Bus, topic string, values ...string) {
	t.Helper()
	recs := make([]bus.Record, len(values))
	for i, v := range values {
		recs[i] = bus.Record{Topic: topic, Key: []byte("k"), Value: []byte(v)}
	}
	require.NoError(t, b.Publish(context.Background(), recs...))
}

func numbered(from, to int) []string {
	var vs []string
	for i := from; i < to; i++ {
		vs = append(vs, strconv.Itoa(i))
	}
	return vs
}

// readGroup consumes topic in group until it has n records, then stops
// and returns their values in delivery order.
func readGroup(t testing.TB, b *Bus, group, topic string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var values []string
	err := b.Consume(ctx, group, []string{topic}, bus.ConsumeOptions{MaxBatch: 1000}, func(_ context.Context, batch []bus.Record) error {
		for _, r := range batch {
			values = append(values, string(r.Value))
		}
		if len(values) >= n {
			cancel()
		}
		return nil
	})
	require.NoError(t, err)
	return values
}

var errStop = errors.New("stop here")

func TestReopenKeepsRecordsAndCommittedOffsets(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 256}
	b := openTest(t, dir, opts)
	publishValues(t, b, "progress", numbered(0, 100)...)
	require.Greater(t, segmentFiles(t, dir, "progress"), 3)

	// Commit exactly one batch of 30, then fail the next one.
	batches := 0
	err := b.Consume(context.Background(), "writer", []string{"progress"}, bus.ConsumeOptions{MaxBatch: 30}, func(context.Context, []bus.Record) error {
		if batches++; batches > 1 {
			return errStop
		}
		return nil
	})
	require.ErrorIs(t, err, errStop)
	require.NoError(t, b.Close())

	b = openTest(t, dir, opts)
	require.Positive(t, b.Lag("writer"))
	require.Equal(t, numbered(30, 100), readGroup(t, b, "writer", "progress", 70))
	require.Zero(t, b.Lag("writer"))
	require.Zero(t, b.Lag("no-such-group"))
}

func TestReopenFindsEveryRecord(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 256}
	b := openTest(t, dir, opts)
	for i := 0; i < 100; i += 10 {
		publishValues(t, b, "logs", numbered(i, i+10)...)
	}
	require.NoError(t, b.Close())

	b = openTest(t, dir, opts)
	require.Equal(t, numbered(0, 100), readGroup(t, b, "fresh", "logs", 100))
	publishValues(t, b, "logs", "100")
	require.Equal(t, []string{"100"}, readGroup(t, b, "fresh", "logs", 1))
}

func TestTornTailIsTruncated(t *testing.T) {
	frame := appendFrame(nil, &bus.Record{Key: []byte("k"), Value: []byte("a record that was being written")})
	badCRC := slices.Clone(frame)
	badCRC[len(badCRC)-1] ^= 0xff
	f := func(name string, tail []byte) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			b := openTest(t, dir, Options{})
			publishValues(t, b, "logs", numbered(0, 10)...)
			require.NoError(t, b.Close())

			seg := lastSegment(t, dir, "logs")
			before := fileSize(t, seg)
			appendToFile(t, seg, tail)

			b = openTest(t, dir, Options{})
			require.Equal(t, before, fileSize(t, seg), "torn tail must be cut off")
			require.Equal(t, numbered(0, 10), readGroup(t, b, "g", "logs", 10))
			publishValues(t, b, "logs", "10")
			require.Equal(t, []string{"10"}, readGroup(t, b, "g", "logs", 1))
		})
	}
	f("garbage", []byte("\x13\x37garbage that is no frame at all"))
	f("half a frame", frame[:len(frame)/2])
	f("header only", frame[:frameHeader])
	f("bad checksum", badCRC)
	f("zeros", make([]byte, 4096))
}

func TestRetentionDeletesConsumedSegments(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir, Options{SegmentBytes: 256})

	// The archive group joins at the oldest record and commits nothing,
	// so it holds every segment.
	publishValues(t, b, "metrics", "0")
	joinWithoutCommit(t, b, "archive", "metrics")
	publishValues(t, b, "metrics", numbered(1, 100)...)
	segments := segmentFiles(t, dir, "metrics")
	require.Greater(t, segments, 3)

	require.Equal(t, numbered(0, 100), readGroup(t, b, "writer", "metrics", 100))
	require.Equal(t, segments, segmentFiles(t, dir, "metrics"), "archive still needs them")
	require.Positive(t, b.Lag("archive"))

	require.Equal(t, numbered(0, 100), readGroup(t, b, "archive", "metrics", 100))
	require.Equal(t, 1, segmentFiles(t, dir, "metrics"), "only the active segment stays")
	require.Zero(t, b.Lag("archive"))

	// A new group now starts at the oldest record still kept: the start
	// of the active segment.
	publishValues(t, b, "metrics", "100")
	late := readGroup(t, b, "late", "metrics", 1)
	require.NotEqual(t, "0", late[0])
	require.Equal(t, numbered(101-len(late), 101), late)
}

func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir, Options{})
	_, err := Open(dir, Options{})
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, b.Close())
	openTest(t, dir, Options{})
}

func TestRecordSizes(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir, Options{SegmentBytes: 4096, MaxRecordBytes: 4 << 20})
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i)
	}
	// A record larger than a segment, and larger than one read, gets a
	// segment of its own and still reads back whole.
	require.NoError(t, b.Publish(context.Background(),
		bus.Record{Topic: "logs", Value: []byte("before")},
		bus.Record{Topic: "logs", Value: big},
		bus.Record{Topic: "logs", Value: []byte("after")},
	))
	got := readGroup(t, b, "g", "logs", 3)
	require.Len(t, got, 3)
	require.Equal(t, "before", got[0])
	require.Equal(t, string(big), got[1])
	require.Equal(t, "after", got[2])

	err := b.Publish(context.Background(), bus.Record{Topic: "logs", Value: make([]byte, 5<<20)})
	require.ErrorIs(t, err, ErrRecordTooLarge)
	err = b.Publish(context.Background(), bus.Record{Topic: "../escape", Value: []byte("x")})
	require.ErrorIs(t, err, ErrInvalidTopic)
}

func TestPublishToSeveralTopicsAtOnce(t *testing.T) {
	b := openTest(t, t.TempDir(), Options{})
	require.NoError(t, b.Publish(context.Background(),
		bus.Record{Topic: "a", Value: []byte("a0")},
		bus.Record{Topic: "b", Value: []byte("b0")},
		bus.Record{Topic: "a", Value: []byte("a1")},
	))
	var mu sync.Mutex
	var got []string
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := b.Consume(ctx, "g", []string{"a", "b", "a"}, bus.ConsumeOptions{}, func(_ context.Context, batch []bus.Record) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range batch {
			got = append(got, r.Topic+":"+string(r.Value))
		}
		if len(got) >= 3 {
			cancel()
		}
		return nil
	})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"a:a0", "a:a1", "b:b0"}, got)
	require.Less(t, slices.Index(got, "a:a0"), slices.Index(got, "a:a1"))
}

func segmentFiles(t testing.TB, dir, topic string) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "topics", topic, "*.log"))
	require.NoError(t, err)
	return len(files)
}

func lastSegment(t testing.TB, dir, topic string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "topics", topic, "*.log"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	slices.Sort(files)
	return files[len(files)-1]
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	require.NoError(t, err)
	return info.Size()
}

func appendToFile(t testing.TB, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(data)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestLagIsInBytes(t *testing.T) {
	b := openTest(t, t.TempDir(), Options{})
	rec := bus.Record{Topic: "logs", Value: []byte("0123456789")}
	require.NoError(t, b.Publish(context.Background(), rec))
	joinWithoutCommit(t, b, "g", "logs")
	require.NoError(t, b.Publish(context.Background(), rec))
	require.Equal(t, int64(2*len(appendFrame(nil, &rec))), b.Lag("g"))
}

// joinWithoutCommit makes group known to topic, which must hold a record,
// by failing its first batch.
func joinWithoutCommit(t testing.TB, b *Bus, group, topic string) {
	t.Helper()
	err := b.Consume(context.Background(), group, []string{topic}, bus.ConsumeOptions{}, func(context.Context, []bus.Record) error {
		return errStop
	})
	require.ErrorIs(t, err, errStop)
}
