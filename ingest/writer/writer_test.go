package writer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/ingest/internal/ingesttest"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/bus/embedded"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/duckdb"
	"github.com/taskpulse/taskpulse/schema"
)

func openPipeline(t *testing.T) (*embedded.Bus, *duckdb.Store, *Writer) {
	t.Helper()
	b, st := ingesttest.OpenPipeline(t)
	w, err := New(Config{}, Deps{Bus: b, Store: st})
	require.NoError(t, err)
	return b, st, w
}

func progressRecord(t *testing.T, task string, seq int64, status schema.Status, progress float64) bus.Record {
	t.Helper()
	p := schema.Progress{
		Tenant: "acme", EventID: fmt.Sprintf("%s-%d", task, seq), Timestamp: 1_700_000_000_000 + seq,
		Seq: seq, TaskID: task, Status: status, Progress: &progress,
	}
	b, err := schema.EncodeProgress(&p)
	require.NoError(t, err)
	return bus.Record{Topic: schema.TopicProgress, Key: []byte(task), Value: b}
}

func TestWriterRedeliveredBatchChangesNoCount(t *testing.T) {
	_, st, w := openPipeline(t)
	ctx := context.Background()
	batch := []bus.Record{
		progressRecord(t, "a", 1, schema.StatusRunning, 10),
		progressRecord(t, "a", 2, schema.StatusRunning, 60),
		progressRecord(t, "b", 1, schema.StatusFailed, 30),
	}
	require.NoError(t, w.Handle(ctx, batch))
	before := snapshot(t, st)

	require.NoError(t, w.Handle(ctx, batch))
	require.NoError(t, w.Handle(ctx, batch[1:2]))
	require.Equal(t, before, snapshot(t, st))
	require.Equal(t, int64(2), before["a"].Events)
	require.Equal(t, 60.0, before["a"].Progress)
}

// snapshot is every task of tenant acme and its number of stored events.
func snapshot(t *testing.T, st *duckdb.Store) map[string]store.Task {
	t.Helper()
	tasks, err := st.Tasks(context.Background(), store.TaskFilter{Tenant: "acme", Limit: 100})
	require.NoError(t, err)
	out := map[string]store.Task{}
	for _, task := range tasks {
		events, err := st.TaskEvents(context.Background(), "acme", task.TaskID, store.EventFilter{Limit: 100})
		require.NoError(t, err)
		require.EqualValues(t, len(events), task.Events)
		out[task.TaskID] = task
	}
	return out
}

func TestWriterSendsPoisonToDeadLetterAndKeepsGoing(t *testing.T) {
	b, st, w := openPipeline(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	dead := make(chan bus.Record, 10)
	ready := make(chan struct{})
	go b.Subscribe(ctx, []string{schema.TopicDeadLetter}, func(_ context.Context, recs []bus.Record) error {
		for _, r := range recs {
			if string(r.Key) == "marker" {
				select {
				case <-ready:
				default:
					close(ready)
				}
				continue
			}
			dead <- r
		}
		return nil
	})
	require.Eventually(t, func() bool {
		require.NoError(t, b.Publish(ctx, bus.Record{Topic: schema.TopicDeadLetter, Key: []byte("marker")}))
		select {
		case <-ready:
			return true
		default:
			return false
		}
	}, 5*time.Second, 10*time.Millisecond)

	require.NoError(t, b.Publish(ctx,
		progressRecord(t, "before", 1, schema.StatusRunning, 5),
		bus.Record{Topic: schema.TopicProgress, Key: []byte("bad"), Value: []byte("{not json")},
		bus.Record{Topic: schema.TopicProgress, Key: []byte("bad"), Value: []byte(`{"task_id":"no-tenant","status":"running"}`)},
		progressRecord(t, "after", 1, schema.StatusCompleted, 100),
	))
	go w.Run(ctx)

	for _, want := range []string{"decode progress record", "missing tenant"} {
		r := <-dead
		require.Equal(t, "bad", string(r.Key))
		require.Contains(t, r.Headers["reason"], want)
		require.Equal(t, schema.TopicProgress, r.Headers["original_topic"])
		require.NotEmpty(t, r.Headers["original_offset"])
	}
	require.Eventually(t, func() bool {
		_, err1 := st.Task(ctx, "acme", "before")
		_, err2 := st.Task(ctx, "acme", "after")
		return err1 == nil && err2 == nil
	}, 5*time.Second, 10*time.Millisecond, "records around the poison ones are stored")
}

// refreshingStore is a real store that also keeps snapshots, and says
// which tenants it was asked to refresh.
type refreshingStore struct {
	*duckdb.Store
	refreshed chan string
}

func (s refreshingStore) RefreshTaskSnapshots(_ context.Context, tenant string) error {
	s.refreshed <- tenant
	return nil
}

// TestWriterRefreshesSnapshotsOfStoredTenants checks that the writer
// refreshes the snapshots of each tenant it stored progress of, once a
// round, and of no other.
func TestWriterRefreshesSnapshotsOfStoredTenants(t *testing.T) {
	b, st := ingesttest.OpenPipeline(t)
	rs := refreshingStore{Store: st, refreshed: make(chan string, 10)}
	w, err := New(Config{RefreshEvery: 20 * time.Millisecond}, Deps{Bus: b, Store: rs})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	other := progressRecord(t, "b", 1, schema.StatusRunning, 10)
	p, err := schema.DecodeProgress(other.Value)
	require.NoError(t, err)
	p.Tenant = "other"
	other.Value, err = schema.EncodeProgress(&p)
	require.NoError(t, err)
	require.NoError(t, b.Publish(ctx, progressRecord(t, "a", 1, schema.StatusRunning, 10), progressRecord(t, "a", 2, schema.StatusRunning, 20), other))

	got := map[string]int{}
	for len(got) < 2 {
		select {
		case tenant := <-rs.refreshed:
			got[tenant]++
		case <-time.After(10 * time.Second):
			t.Fatalf("refreshed %v, want acme and other", got)
		}
	}
	require.Equal(t, map[string]int{"acme": 1, "other": 1}, got)
	select {
	case tenant := <-rs.refreshed:
		t.Fatalf("refreshed %s again with nothing stored since", tenant)
	case <-time.After(100 * time.Millisecond):
	}
}
