package alerting

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

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

// newNotification is the notification that tells t of a, by r.
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
