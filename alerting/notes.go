package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// errContended is returned when a notification kept changing under an
// update: another process writes it at the same moment, again and again.
var errContended = errors.New("notification changed by another writer at every try")

// readNotification returns a stored notification and its version.
func (s *Service) readNotification(ctx context.Context, tenant, id string) (schema.Notification, int64, error) {
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

// updateNotification applies change to a stored notification. The store
// keeps the highest version and has no compare-and-swap, so after writing
// version v+1 the update reads it back: if another writer took v+1 first,
// change is applied again on top of theirs. change must therefore be
// idempotent; it returns false when there is nothing to do.
func (s *Service) updateNotification(ctx context.Context, tenant, id string, change func(*schema.Notification) bool) (schema.Notification, error) {
	s.notesMu.Lock()
	defer s.notesMu.Unlock()
	for range 8 {
		n, v, err := s.readNotification(ctx, tenant, id)
		if err != nil {
			return n, err
		}
		if !change(&n) {
			return n, nil
		}
		body, err := json.Marshal(&n)
		if err != nil {
			return n, fmt.Errorf("encode notification %s: %w", id, err)
		}
		doc := store.Document{Tenant: tenant, Kind: kindNotification, ID: id, Version: v + 1, Body: body, UpdatedAt: s.now().UnixMilli()}
		if err := s.docs.PutDocuments(ctx, doc); err != nil {
			return n, fmt.Errorf("store notification %s: %w", id, err)
		}
		back, err := s.docs.Document(ctx, tenant, kindNotification, id)
		if err != nil {
			return n, fmt.Errorf("read back notification %s: %w", id, err)
		}
		if back.Version == v+1 && bytes.Equal(back.Body, body) {
			return n, nil
		}
	}
	return schema.Notification{}, fmt.Errorf("update notification %s: %w", id, errContended)
}
