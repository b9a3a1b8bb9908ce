package control

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taskpulse/taskpulse/internal/backoff"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Subscriber is the part of the bus a registry follows.
type Subscriber interface {
	Subscribe(ctx context.Context, topics []string, h bus.Handler) error
}

// Documents is the part of the store that keeps requests.
type Documents interface {
	PutDocuments(ctx context.Context, docs ...store.Document) error
	Documents(ctx context.Context, tenant, kind string) ([]store.Document, error)
}

// Registry holds every task's latest control request, of every tenant, as
// this process learned them: from the documents when it starts, then from
// the bus. Requests are few (people ask them), so all are kept.
type Registry struct {
	bus  Subscriber
	docs Documents // nil in a process without a store
	log  *slog.Logger

	mu      sync.RWMutex
	tasks   map[string]map[string]*Request // by tenant, then task
	waiters map[taskKey]chan struct{}
	listen  []func(Request)
	// pending counts the pending requests, so that the hot path of ingest
	// asks nothing more while it is zero.
	pending atomic.Int64
	loaded  chan struct{}
}

type taskKey struct{ tenant, task string }

// NewRegistry makes a registry fed by b, which Run follows. docs, when
// the process has a store, seeds it and records acknowledgements.
func NewRegistry(b Subscriber, docs Documents, log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{
		bus: b, docs: docs, log: log.With("component", "control"),
		tasks: map[string]map[string]*Request{}, waiters: map[taskKey]chan struct{}{},
		loaded: make(chan struct{}),
	}
}

// Listen calls fn, from the registry's goroutine, with every new state of
// a request, once Listen has returned. Call it before Run.
func (g *Registry) Listen(fn func(Request)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.listen = append(g.listen, fn)
}

// retryPolicy spaces restarts of the subscription.
var retryPolicy = backoff.Policy{Min: time.Second, Max: time.Minute, ResetAfter: time.Minute}

var errSubscriptionEnded = errors.New("control subscription ended")

// Run follows the control and progress topics until ctx ends, reading the
// stored requests once its place on the bus is fixed, so that none falls
// between the two.
func (g *Registry) Run(ctx context.Context) error {
	var once sync.Once
	placed := bus.OnSubscribed(ctx, func() { once.Do(func() { g.load(ctx); close(g.loaded) }) })
	policy := retryPolicy
	policy.OnRetry = func(err error, wait time.Duration) {
		g.log.Error("control subscription stopped; restarting", "err", err, "backoff", wait)
	}
	_ = backoff.Retry(ctx, policy, func(ctx context.Context) error {
		err := g.bus.Subscribe(placed, []string{TopicControl, schema.TopicProgress}, g.handle)
		if err == nil && ctx.Err() == nil {
			err = errSubscriptionEnded
		}
		return err
	})
	return nil
}

func (g *Registry) load(ctx context.Context) {
	if g.docs == nil {
		return
	}
	docs, err := g.docs.Documents(ctx, "", DocumentKind)
	if err != nil {
		g.log.Error("read control requests", "err", err)
		return
	}
	for _, d := range docs {
		if r, err := Decode(d.Body); err == nil {
			g.Apply(r)
		}
	}
}

func (g *Registry) handle(ctx context.Context, batch []bus.Record) error {
	for _, rec := range batch {
		switch rec.Topic {
		case TopicControl:
			if r, err := Decode(rec.Value); err == nil {
				g.Apply(r)
			} else {
				g.log.Warn("skip control record", "err", err)
			}
		case schema.TopicProgress:
			// Most events are of tasks no one asked anything of, told
			// from the record's key and tenant header without decoding
			// it; a record without the header is decoded.
			if tenant, ok := rec.Headers[schema.HeaderTenant]; ok && !g.has(tenant, string(rec.Key)) {
				continue
			}
			if p, err := schema.DecodeProgress(rec.Value); err == nil {
				g.Observe(ctx, &p)
			}
		}
	}
	return nil
}

func (g *Registry) has(tenant, task string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.tasks[tenant][task] != nil
}

// Apply makes r its task's state unless the registry holds a later
// version, and reports whether it did.
func (g *Registry) Apply(r Request) bool {
	g.mu.Lock()
	byTask := g.tasks[r.Tenant]
	cur := byTask[r.TaskID]
	if cur != nil && r.Version <= cur.Version {
		g.mu.Unlock()
		return false
	}
	if byTask == nil {
		byTask = map[string]*Request{}
		g.tasks[r.Tenant] = byTask
	}
	g.count(cur, -1)
	byTask[r.TaskID] = &r
	g.count(&r, 1)
	k := taskKey{r.Tenant, r.TaskID}
	if ch := g.waiters[k]; ch != nil {
		close(ch)
		delete(g.waiters, k)
	}
	listen := g.listen
	g.mu.Unlock()
	for _, fn := range listen {
		fn(r)
	}
	return true
}

// count adds d to the pending count when r is pending. g.mu is held.
func (g *Registry) count(r *Request, d int64) {
	if r != nil && r.Pending() {
		g.pending.Add(d)
	}
}

// Observe applies a progress event to its task's request: the status it
// asks for acknowledges it, at the event's time; a terminal one ends it;
// a tombstone forgets it. The new state is recorded in the documents.
func (g *Registry) Observe(ctx context.Context, p *schema.Progress) {
	g.mu.RLock()
	cur := g.tasks[p.Tenant][p.TaskID]
	var r Request
	if cur != nil {
		r = *cur
	}
	g.mu.RUnlock()
	if cur == nil {
		return
	}
	if p.Status == schema.StatusDeleted {
		g.forget(ctx, r)
		return
	}
	if !r.Pending() {
		return
	}
	base := r.Version - r.Version%stages
	switch target, _ := r.Action.Target(); {
	case p.Status == target:
		r.AcknowledgedAt, r.Version = max(p.Timestamp, r.RequestedAt), base+stageAcked
	case p.Status.Terminal():
		r.Ended, r.Version = true, base+stageEnded
	default:
		return
	}
	if g.Apply(r) {
		g.put(ctx, store.Document{Tenant: r.Tenant, Kind: DocumentKind, ID: r.TaskID, Version: r.Version, Body: r.Encode(), UpdatedAt: time.Now().UnixMilli()})
	}
}

// forget drops the request of a deleted task, and its document.
func (g *Registry) forget(ctx context.Context, r Request) {
	g.mu.Lock()
	if cur := g.tasks[r.Tenant][r.TaskID]; cur != nil && cur.Version == r.Version {
		g.count(cur, -1)
		delete(g.tasks[r.Tenant], r.TaskID)
		if len(g.tasks[r.Tenant]) == 0 {
			delete(g.tasks, r.Tenant)
		}
	}
	g.mu.Unlock()
	g.put(ctx, store.Document{Tenant: r.Tenant, Kind: DocumentKind, ID: r.TaskID, Version: r.Version - r.Version%stages + stageEnded + 1, UpdatedAt: time.Now().UnixMilli(), Deleted: true})
}

func (g *Registry) put(ctx context.Context, d store.Document) {
	if g.docs == nil {
		return
	}
	if err := g.docs.PutDocuments(ctx, d); err != nil {
		g.log.Warn("record control request", "task_id", d.ID, "err", err)
	}
}

// Get returns the task's request, pending or not.
func (g *Registry) Get(tenant, task string) (Request, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if r := g.tasks[tenant][task]; r != nil {
		return *r, true
	}
	return Request{}, false
}

// View is the task's control state at now (unix ms), nil without a
// request.
func (g *Registry) View(tenant, task string, now int64) *View {
	if g == nil {
		return nil
	}
	r, ok := g.Get(tenant, task)
	if !ok {
		return nil
	}
	return r.View(now)
}

// Waiting reports whether any request of any tenant is pending: one
// atomic load, which the hot path of ingest asks before anything else.
func (g *Registry) Waiting() bool { return g != nil && g.pending.Load() > 0 }

// Deliveries appends to dst the pending requests of the tasks of tenant
// that task(0) ... task(n-1) name, each once, but for those the status
// reported beside it acknowledges or ends: the answer to that report
// would otherwise ask again what the worker just did. While no request is
// pending anywhere it costs one atomic load.
func (g *Registry) Deliveries(dst []Delivery, tenant string, n int, task func(i int) (id string, status schema.Status)) []Delivery {
	if !g.Waiting() {
		return dst
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	byTask := g.tasks[tenant]
	if len(byTask) == 0 {
		return dst
	}
	start := len(dst)
	for i := range n {
		id, status := task(i)
		r := byTask[id]
		if r == nil || !r.Pending() || delivered(dst[start:], id) {
			continue
		}
		if target, _ := r.Action.Target(); status == target || status.Terminal() {
			continue
		}
		dst = append(dst, r.Delivery())
	}
	return dst
}

func delivered(ds []Delivery, task string) bool {
	for _, d := range ds {
		if d.TaskID == task {
			return true
		}
	}
	return false
}

// Wait returns the task's request as soon as one is pending, or false
// when ctx ends first.
func (g *Registry) Wait(ctx context.Context, tenant, task string) (Request, bool) {
	k := taskKey{tenant, task}
	for {
		g.mu.Lock()
		if r := g.tasks[tenant][task]; r != nil && r.Pending() {
			g.mu.Unlock()
			return *r, true
		}
		ch := g.waiters[k]
		if ch == nil {
			ch = make(chan struct{})
			g.waiters[k] = ch
		}
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			g.dropWaiter(k, ch)
			return Request{}, false
		}
	}
}

// dropWaiter removes ch, which no one waits on any more, unless a change
// closed it already. Another poll of the same task may still wait on it:
// it is then made again on its next turn, which costs only a wake-up.
func (g *Registry) dropWaiter(k taskKey, ch chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.waiters[k] == ch {
		delete(g.waiters, k)
		close(ch)
	}
}

// Overdue calls fn with every request of tenant (every tenant: "") that
// passed its deadline unacknowledged at now.
func (g *Registry) Overdue(tenant string, now int64, fn func(Request)) {
	g.mu.RLock()
	var late []Request
	for t, byTask := range g.tasks {
		if tenant != "" && t != tenant {
			continue
		}
		for _, r := range byTask {
			if r.Overdue(now) {
				late = append(late, *r)
			}
		}
	}
	g.mu.RUnlock()
	for _, r := range late {
		fn(r)
	}
}

// Pending returns the pending requests of tenant that match selects.
func (g *Registry) Pending(tenant string, selects func(*Request) bool) []Request {
	if g == nil || g.pending.Load() == 0 {
		return nil
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	var found []Request
	for _, r := range g.tasks[tenant] {
		if r.Pending() && selects(r) {
			found = append(found, *r)
		}
	}
	return found
}

// Ready reports whether the registry follows the bus and has read the
// stored requests, before which it may miss a request or its
// acknowledgement.
func (g *Registry) Ready(context.Context) error {
	select {
	case <-g.loaded:
		return nil
	default:
		return errors.New("not yet following control requests")
	}
}
