package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// errContended is returned when a notification kept changing under an
// update: another process writes it at the same moment, again and again.
var errContended = errors.New("notification changed by another writer at every try")

// noteStore keeps notifications as documents, for the deliverer (their
// delivery history) and the API (listing them, marking them read).
type noteStore struct {
	docs store.DocumentStore
	log  *slog.Logger
	now  func() time.Time

	// pending holds, per notification, the changes waiting for the
	// caller that writes it; a key is present while that caller works.
	// mu guards only the map: the writer makes its store calls without
	// it, so channels of one notification never queue behind the store
	// calls of another notification.
	mu      sync.Mutex
	pending map[noteKey][]*noteChange
}

type noteKey struct{ tenant, id string }

type noteChange struct {
	change func(*schema.Notification) bool
	done   chan noteResult // buffered: the writer never waits for its reader
}

type noteResult struct {
	n   schema.Notification
	err error
}

func newNoteStore(docs store.DocumentStore, log *slog.Logger, now func() time.Time) *noteStore {
	return &noteStore{docs: docs, log: log, now: now, pending: map[noteKey][]*noteChange{}}
}

// create stores a new notification, body being its JSON. Version 1 never
// replaces a stored copy, which may already carry delivery history: a
// replayed transition changes nothing.
func (s *noteStore) create(ctx context.Context, n *schema.Notification, body []byte) error {
	return s.docs.PutDocuments(ctx, store.Document{Tenant: n.Tenant, Kind: kindNotification, ID: n.ID, Version: 1,
		Body: body, UpdatedAt: s.now().UnixMilli()})
}

// read returns a stored notification and its version.
func (s *noteStore) read(ctx context.Context, tenant, id string) (schema.Notification, int64, error) {
	d, err := s.docs.Document(ctx, tenant, kindNotification, id)
	if err != nil {
		return schema.Notification{}, 0, err
	}
	var n schema.Notification
	if err := json.Unmarshal(d.Body, &n); err != nil {
		return n, 0, fmt.Errorf("decode notification %s: %w", id, err)
	}
	return n, d.Version, nil
}

// list returns a tenant's notifications, skipping any that does not
// decode.
func (s *noteStore) list(ctx context.Context, tenant string) ([]schema.Notification, error) {
	docs, err := s.docs.Documents(ctx, tenant, kindNotification)
	if err != nil {
		return nil, err
	}
	out := make([]schema.Notification, 0, len(docs))
	for _, d := range docs {
		var n schema.Notification
		if err := json.Unmarshal(d.Body, &n); err != nil {
			s.log.Warn("skipping a notification that does not decode", "id", d.ID, "err", err)
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

// update applies change to a stored notification and returns it as
// written. change must be idempotent, returning false when there is
// nothing to do: it may be applied more than once (see write), and a
// caller whose ctx ends may see it applied after all.
//
// Changes made on this process at once are written together by whichever
// caller came first, so they never contend for a version among
// themselves.
func (s *noteStore) update(ctx context.Context, tenant, id string, change func(*schema.Notification) bool) (schema.Notification, error) {
	k := noteKey{tenant, id}
	c := &noteChange{change: change, done: make(chan noteResult, 1)}
	s.mu.Lock()
	queue, writing := s.pending[k]
	s.pending[k] = append(queue, c)
	s.mu.Unlock()
	if !writing {
		s.writeAll(ctx, k)
		r := <-c.done
		return r.n, r.err
	}
	select {
	case r := <-c.done:
		return r.n, r.err
	case <-ctx.Done():
		return schema.Notification{}, ctx.Err()
	}
}

// writeAll writes the changes queued for k, and those queued while it
// writes, until none is left.
func (s *noteStore) writeAll(ctx context.Context, k noteKey) {
	for {
		s.mu.Lock()
		batch := s.pending[k]
		if len(batch) == 0 {
			delete(s.pending, k)
			s.mu.Unlock()
			return
		}
		s.pending[k] = nil
		s.mu.Unlock()
		n, err := s.write(ctx, k, batch)
		for _, c := range batch {
			c.done <- noteResult{n, err}
		}
	}
}

// write applies batch to the stored notification. The store keeps the
// highest version and has no compare-and-swap, so after writing version
// v+1 it reads it back: if another process took v+1 first, the changes
// are applied again on top of theirs.
func (s *noteStore) write(ctx context.Context, k noteKey, batch []*noteChange) (schema.Notification, error) {
	for range 8 {
		n, v, err := s.read(ctx, k.tenant, k.id)
		if err != nil {
			return n, err
		}
		changed := false
		for _, c := range batch {
			if c.change(&n) {
				changed = true
			}
		}
		if !changed {
			return n, nil
		}
		body, err := json.Marshal(&n)
		if err != nil {
			return n, fmt.Errorf("encode notification %s: %w", k.id, err)
		}
		doc := store.Document{Tenant: k.tenant, Kind: kindNotification, ID: k.id, Version: v + 1, Body: body, UpdatedAt: s.now().UnixMilli()}
		if err := s.docs.PutDocuments(ctx, doc); err != nil {
			return n, fmt.Errorf("store notification %s: %w", k.id, err)
		}
		back, err := s.docs.Document(ctx, k.tenant, kindNotification, k.id)
		if err != nil {
			return n, fmt.Errorf("read back notification %s: %w", k.id, err)
		}
		if back.Version == v+1 && bytes.Equal(back.Body, body) {
			return n, nil
		}
	}
	return schema.Notification{}, fmt.Errorf("update notification %s: %w", k.id, errContended)
}
