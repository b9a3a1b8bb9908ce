package channel

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/taskpulse/taskpulse/schema"
)

// received is one request a receiver took.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTP server that records requests and answers with
// answer.
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []received
}

func newReceiver(t testing.TB, answer func(w http.ResponseWriter)) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), body})
		r.mu.Unlock()
		if answer != nil {
			answer(w)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// notification is a notification as alerting sends it, history and all.
func notification() *schema.Notification {
	return &schema.Notification{
		ID: "n1", Tenant: "acme", TaskID: "t1", Rule: "failed", GroupKey: "t1", State: "firing",
		Severity: schema.SeverityCritical, Title: "Skill failed", Body: "task t1 failed: disk full",
		Labels: map[string]string{"task_id": "t1"}, Channels: []string{"hook"}, CreatedAt: 1700000000000, SentAt: 5, ReadAt: 6,
		Deliveries: []schema.Delivery{{Channel: "hook", State: schema.DeliveryFailed, Attempts: []schema.Attempt{{At: 1}}}},
	}
}

// asError returns err as an *Error, failing t when it is not one.
func asError(t testing.TB, err error) *Error {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("err %T %v, want *Error", err, err)
	}
	return e
}
