package tasks

import (
	"container/list"
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/taskpulse/taskpulse/internal/store"
)

// The store lags the bus by the writer's batch time, and the task API
// checks every change against the task's current state: read from the
// store alone, a PATCH right after its create would find no task. So the
// service remembers the states it published itself (view), and takes, of
// that and the store's, the later by the task order key. A task neither
// knows is looked for in the store a few more times before it is called
// unknown, for a create made through another process.

// taskKey names a task across tenants.
type taskKey struct{ tenant, id string }

// known is what the view holds of one task.
type known struct {
	task store.Task
	// created is the answer to the task's create, when this process made
	// it: a retried create answers it again.
	created *store.Task
}

// view is a bounded map of the task states this process published, the
// least recently used dropped first. The standard library's list is all
// the machinery it needs; go.mod holds no LRU package to reuse.
type view struct {
	mu    sync.Mutex
	max   int
	lru   *list.List // of *viewEntry, most recent first
	items map[taskKey]*list.Element
}

type viewEntry struct {
	key taskKey
	known
}

func newView(max int) *view {
	return &view{max: max, lru: list.New(), items: make(map[taskKey]*list.Element)}
}

func (v *view) get(k taskKey) (known, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.items[k]
	if !ok {
		return known{}, false
	}
	v.lru.MoveToFront(e)
	return e.Value.(*viewEntry).known, true
}

// put remembers a task's state; a nil created keeps the one remembered.
func (v *view) put(k taskKey, task store.Task, created *store.Task) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.items[k]; ok {
		ve := e.Value.(*viewEntry)
		ve.task = task
		if created != nil {
			ve.created = created
		}
		v.lru.MoveToFront(e)
		return
	}
	v.items[k] = v.lru.PushFront(&viewEntry{key: k, known: known{task: task, created: created}})
	if v.lru.Len() > v.max {
		oldest := v.lru.Back()
		v.lru.Remove(oldest)
		delete(v.items, oldest.Value.(*viewEntry).key)
	}
}

// lookup returns the current state of every task of ids that the view or
// the store knows, merged by order key. Those of waitFor that neither
// knows are read again from the store, with growing pauses, for up to
// s.cfg.NotFoundWait, so that a task created through another process is
// found once the writer has stored it, unless the store is known to hold
// every published event.
func (s *Service) lookup(ctx context.Context, tenant string, ids, waitFor []string) (map[string]*known, error) {
	found := make(map[string]*known, len(ids))
	for _, id := range ids {
		if k, ok := s.view.get(taskKey{tenant, id}); ok {
			found[id] = &k
		}
	}
	deadline := time.Now().Add(s.cfg.NotFoundWait)
	pause := 25 * time.Millisecond
	for read := ids; ; {
		// Settled before the read: then the read sees every task made so far.
		settled := s.settled != nil && s.settled()
		if err := s.readStore(ctx, tenant, read, found); err != nil {
			return nil, err
		}
		read = nil
		for _, id := range waitFor {
			if found[id] == nil {
				read = append(read, id)
			}
		}
		read = slices.Compact(slices.Sorted(slices.Values(read)))
		left := time.Until(deadline)
		if len(read) == 0 || settled || left <= 0 {
			return found, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(pause, left)):
		}
		pause *= 2
	}
}

// readStore merges the store's state of ids into found: the store's wins
// when its latest event comes after the one the view holds, as when the
// task's worker reported since.
func (s *Service) readStore(ctx context.Context, tenant string, ids []string, found map[string]*known) error {
	stored, err := s.store.Tasks(ctx, store.TaskFilter{Tenant: tenant, TaskIDs: ids, Limit: len(ids)})
	if err != nil {
		return err
	}
	for _, t := range stored {
		k := found[t.TaskID]
		switch {
		case k == nil:
			found[t.TaskID] = &known{task: t}
		case t.Order().After(k.task.Order()):
			k.task = t
		}
	}
	return nil
}

// stripes serialise the changes to one task within this process, so that
// two changes of one task are checked one after the other; tasks share
// stripes by hash.
type stripes struct {
	seed  maphash.Seed
	locks [1024]sync.Mutex
}

// lock takes the stripes of every task of ids, in index order so that
// two requests never wait on each other, and returns their release.
func (st *stripes) lock(tenant string, ids []string) (unlock func()) {
	idx := make([]int, 0, len(ids))
	for _, id := range ids {
		idx = append(idx, int(maphash.String(st.seed, tenant+"\x00"+id)%uint64(len(st.locks))))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		st.locks[i].Lock()
	}
	return func() {
		for _, i := range idx {
			st.locks[i].Unlock()
		}
	}
}
