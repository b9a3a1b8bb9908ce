package stream

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/taskpulse/taskpulse/internal/store"
)

// snapshots reads the snapshots of many subscriptions together, so that a
// burst of connections costs a few store queries rather than one each.
//
// A subscription is registered with the hub before its snapshot is asked
// for (see client.subscribe), and the query that answers it must start
// after that, or an update published in between could be in neither the
// snapshot nor the live events. So a request never joins a query under
// way: requests of a tenant that arrive meanwhile wait for the next round,
// which answers all of them at once. In a round the task subscriptions of
// the tenant share one query (per SnapshotLimit ids), each distinct user
// or "all" subscription has one, and each answer is encoded once for all
// the connections that asked for it.
type snapshots struct {
	store   Snapshotter
	log     *slog.Logger
	limit   int
	timeout time.Duration
	// ctx ends when the service stops, and with it every query.
	ctx    context.Context
	render renderer

	mu sync.Mutex
	// waiting holds, per tenant with a round running, the requests for the
	// next round.
	waiting map[string][]*snapshotRequest
}

type snapshotRequest struct {
	sub  Subscription
	done chan struct{}
	snap *snapshot
	err  error
}

// snapshot is the answer to one subscription, shared by every connection
// that asked for it in the same round; nobody changes it.
type snapshot struct {
	tasks []store.Task
	frame []byte
}

func newSnapshots(ctx context.Context, st Snapshotter, log *slog.Logger, cfg Config) *snapshots {
	return &snapshots{
		store: st, log: log, limit: cfg.SnapshotLimit, timeout: cfg.PongWait, ctx: ctx,
		waiting: make(map[string][]*snapshotRequest),
	}
}

// read returns the snapshot of sub from a query that starts after the
// call, or ctx's error once ctx ends first.
func (s *snapshots) read(ctx context.Context, tenant string, sub Subscription) (*snapshot, error) {
	r := &snapshotRequest{sub: sub, done: make(chan struct{})}
	s.mu.Lock()
	waiting, running := s.waiting[tenant]
	s.waiting[tenant] = append(waiting, r)
	if !running {
		go s.rounds(tenant)
	}
	s.mu.Unlock()
	select {
	case <-r.done:
		return r.snap, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// rounds answers the tenant's requests, a round at a time, until none is
// left waiting.
func (s *snapshots) rounds(tenant string) {
	for {
		s.mu.Lock()
		reqs := s.waiting[tenant]
		if len(reqs) == 0 {
			delete(s.waiting, tenant)
			s.mu.Unlock()
			return
		}
		s.waiting[tenant] = nil // still running
		s.mu.Unlock()
		s.round(tenant, reqs)
	}
}

func (s *snapshots) round(tenant string, reqs []*snapshotRequest) {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	bySub := make(map[Subscription][]*snapshotRequest)
	var taskIDs []string
	for _, r := range reqs {
		if _, ok := bySub[r.sub]; !ok && r.sub.TaskID != "" {
			taskIDs = append(taskIDs, r.sub.TaskID)
		}
		bySub[r.sub] = append(bySub[r.sub], r)
	}
	// Each task id matches at most one task, so a batch no longer than the
	// limit is never truncated, and asking for no more tasks than ids
	// spares the store room for tasks that cannot come.
	for ids := range slices.Chunk(taskIDs, s.limit) {
		tasks, err := s.query(ctx, store.TaskFilter{Tenant: tenant, TaskIDs: ids, Limit: len(ids)})
		byID := make(map[string]*store.Task, len(tasks))
		for i := range tasks {
			byID[tasks[i].TaskID] = &tasks[i]
		}
		for _, id := range ids {
			sub := Subscription{TaskID: id}
			found := []store.Task{}
			if t := byID[id]; t != nil {
				found = []store.Task{*t}
			}
			s.answer(bySub[sub], tenant, sub, found, false, err)
		}
	}
	for sub, rs := range bySub {
		if sub.TaskID != "" {
			continue
		}
		tasks, err := s.query(ctx, sub.filter(tenant, s.limit+1))
		truncated := len(tasks) > s.limit
		if truncated {
			tasks = tasks[:s.limit]
		}
		if tasks == nil {
			tasks = []store.Task{}
		}
		s.answer(rs, tenant, sub, tasks, truncated, err)
	}
}

func (s *snapshots) query(ctx context.Context, f store.TaskFilter) ([]store.Task, error) {
	tasks, err := s.store.Tasks(ctx, f)
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn("snapshot failed", "tenant", f.Tenant, "err", err)
		}
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	return tasks, nil
}

// answer hands every request of sub the same snapshot, or err.
func (s *snapshots) answer(reqs []*snapshotRequest, tenant string, sub Subscription, tasks []store.Task, truncated bool, err error) {
	var snap *snapshot
	if err == nil {
		snap = &snapshot{tasks: tasks, frame: mustEncode(snapshotMessage{
			Type: TypeSnapshot, Subscription: sub, Tasks: s.render.tasks(tenant, tasks), Truncated: truncated,
		})}
	}
	for _, r := range reqs {
		r.snap, r.err = snap, err
		close(r.done)
	}
}
