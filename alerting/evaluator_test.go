package alerting

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// gatedDocs holds back puts of one kind of document until opened.
type gatedDocs struct {
	store.DocumentStore
	kind    string
	waited  sync.Once
	waiting chan struct{} // closed when a put first waits
	opened  sync.Once
	open    chan struct{}
}

func newGatedDocs(st store.DocumentStore, kind string) *gatedDocs {
	return &gatedDocs{DocumentStore: st, kind: kind, waiting: make(chan struct{}), open: make(chan struct{})}
}

func (g *gatedDocs) PutDocuments(ctx context.Context, docs ...store.Document) error {
	if len(docs) > 0 && docs[0].Kind == g.kind {
		g.waited.Do(func() { close(g.waiting) })
		select {
		case <-g.open:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.DocumentStore.PutDocuments(ctx, docs...)
}

func (g *gatedDocs) release() { g.opened.Do(func() { close(g.open) }) }

// An evaluation writing to a slow store holds up no reader of the
// alerts: it plans under the lock and writes without it.
func TestSlowStoreWriteHoldsNoLock(t *testing.T) {
	r := newReceiver(t, nil)
	e := newEnv(t, fmt.Sprintf(webhookRuleYAML, r.URL))
	gate := newGatedDocs(e.store, kindAlert)
	e.documents = gate
	s := e.start(t)
	defer gate.release()
	e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed})
	select {
	case <-gate.waiting:
	case <-time.After(patience):
		t.Fatal("the alert state was never written")
	}
	// The notification went out before the state was written, and
	// readers of the alerts are answered meanwhile.
	r.waitRequests(t, 1)
	done := make(chan int, 1)
	go func() {
		status, _ := s.call(t, "GET", "/v1/alerts", "")
		done <- status
	}()
	select {
	case status := <-done:
		require.Equal(t, http.StatusOK, status)
	case <-time.After(patience):
		t.Fatal("listing alerts waited for the store write")
	}
	gate.release()
	require.Eventually(t, func() bool { return len(s.eval.alertsOf("default")) == 1 }, patience, 5*time.Millisecond)
}

// Many changes of one notification at once are all kept: this process
// writes them one after another, never against itself.
func TestConcurrentNotificationUpdates(t *testing.T) {
	e := newEnv(t, "")
	notes := newNoteStore(e.store, slog.New(slog.DiscardHandler), time.Now)
	n := &schema.Notification{ID: "n1", Tenant: "default", Rule: "r", State: "firing", CreatedAt: 1}
	const channels = 16
	for i := range channels {
		n.Deliveries = append(n.Deliveries, schema.Delivery{Channel: fmt.Sprint("c", i), State: schema.DeliveryPending})
	}
	body, err := schema.EncodeNotification(n)
	require.NoError(t, err)
	require.NoError(t, notes.create(context.Background(), n, body))

	var wg sync.WaitGroup
	for i := range channels {
		wg.Go(func() {
			_, err := notes.update(context.Background(), "default", "n1", func(x *schema.Notification) bool {
				d := &x.Deliveries[i]
				if d.State == schema.DeliverySent {
					return false
				}
				d.State = schema.DeliverySent
				return true
			})
			require.NoError(t, err)
		})
	}
	wg.Wait()
	got, _, err := notes.read(context.Background(), "default", "n1")
	require.NoError(t, err)
	for _, d := range got.Deliveries {
		require.Equal(t, schema.DeliverySent, d.State, d.Channel)
	}
}
