package alerting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// notificationID derives a notification's id from what makes it: the same
// transition seen twice (a replay, a second alerting process) has the same
// id, so it is stored and delivered once.
func notificationID(tenant, rule, group, trans string, at int64) string {
	h := sha256.New()
	for _, part := range []string{tenant, rule, group, trans, strconv.FormatInt(at, 10)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// notify makes t's notification, stores it and publishes it for delivery,
// unless a silence holds it back. It reports whether it went out.
func (s *Service) notify(ctx context.Context, r *compiledRule, a *Alert, t *transition) (bool, error) {
	silence, err := s.silencedBy(ctx, a.Tenant, a.Labels, s.now().UnixMilli())
	if err != nil {
		return false, err
	}
	k := alertKey{a.Tenant, r.ID, a.GroupKey}
	if silence != "" {
		// A held-back firing is due again at every evaluation: say so
		// once per transition, not every few seconds.
		if held, ok := s.held[k]; !ok || held != *t {
			s.held[k] = *t
			s.log.Info("notification held back by a silence", "tenant", a.Tenant, "rule", r.ID, "group", a.GroupKey,
				"transition", t.kind, "silence", silence)
		}
		return false, nil
	}
	if _, ok := s.held[k]; ok {
		delete(s.held, k)
		s.log.Info("silence no longer holds the alert back", "tenant", a.Tenant, "rule", r.ID, "group", a.GroupKey, "transition", t.kind)
	}
	n := newNotification(r, a, t)
	body, err := json.Marshal(&n)
	if err != nil {
		return false, fmt.Errorf("encode notification: %w", err)
	}
	// Version 1 never replaces a stored copy, which may already carry
	// delivery history: a replayed transition changes nothing.
	doc := store.Document{Tenant: n.Tenant, Kind: kindNotification, ID: n.ID, Version: 1, Body: body, UpdatedAt: s.now().UnixMilli()}
	if err := s.docs.PutDocuments(ctx, doc); err != nil {
		return false, fmt.Errorf("store notification: %w", err)
	}
	rec := bus.Record{Topic: schema.TopicNotifications, Key: []byte(n.ID), Value: body,
		Headers: map[string]string{schema.HeaderTenant: n.Tenant}}
	if err := s.bus.Publish(ctx, rec); err != nil {
		return false, fmt.Errorf("publish notification: %w", err)
	}
	s.log.Info("alert notification", "tenant", a.Tenant, "rule", r.ID, "group", a.GroupKey, "transition", t.kind, "id", n.ID)
	return true, nil
}

func newNotification(r *compiledRule, a *Alert, t *transition) schema.Notification {
	n := schema.Notification{
		ID:        notificationID(a.Tenant, r.ID, a.GroupKey, t.kind, t.at),
		Tenant:    a.Tenant,
		UserID:    a.UserID,
		TaskID:    a.TaskID,
		Rule:      r.ID,
		GroupKey:  a.GroupKey,
		State:     string(StateFiring),
		Severity:  r.Severity,
		Title:     r.Name,
		Body:      a.Summary,
		Labels:    a.Labels,
		Channels:  r.Channels,
		CreatedAt: t.at,
	}
	if t.kind == transResolved {
		n.State = string(StateResolved)
		n.Title = r.Name + " (resolved)"
		n.Body = "Resolved: " + a.Summary
	}
	for _, c := range r.Channels {
		n.Deliveries = append(n.Deliveries, schema.Delivery{Channel: c, State: schema.DeliveryPending})
	}
	return n
}
