package alerting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/taskpulse/taskpulse/internal/store"
)

// Document kinds alerting keeps its state in.
const (
	kindRule         = "alert_rule"
	kindAlert        = "alert_state"
	kindSilence      = "silence"
	kindNotification = "notification"
)

type alertKey struct{ tenant, rule, group string }

// alertDocID names an alert's document: group keys may be long or hold
// any character, so they are hashed.
func alertDocID(rule, group string) string {
	sum := sha256.Sum256([]byte(rule + "\x00" + group))
	return hex.EncodeToString(sum[:16])
}

// loadAlerts reads every stored alert, so that a restart neither forgets
// a firing alert nor tells it again.
func (s *Service) loadAlerts(ctx context.Context) error {
	docs, err := s.docs.Documents(ctx, "", kindAlert)
	if err != nil {
		return fmt.Errorf("load alert states: %w", err)
	}
	s.alertsMu.Lock()
	defer s.alertsMu.Unlock()
	for _, d := range docs {
		var a Alert
		if err := json.Unmarshal(d.Body, &a); err != nil {
			s.log.Warn("skipping an alert state that does not decode", "id", d.ID, "err", err)
			continue
		}
		a.Tenant, a.Version = d.Tenant, d.Version
		s.alerts[alertKey{a.Tenant, a.RuleID, a.GroupKey}] = &a
	}
	return nil
}

// apply moves the alerts of r by what one evaluation observed, at time
// now. With complete, obs covers every group the rule has, so an alert
// missing from it is over: a query rule's resolves; a task rule's task
// has been forgotten, and its alert is dropped without a word.
func (s *Service) apply(ctx context.Context, r *compiledRule, obs map[string]observation, now int64, complete bool) {
	s.alertsMu.Lock()
	defer s.alertsMu.Unlock()
	for group, o := range obs {
		s.applyOne(ctx, r, group, o, now)
	}
	if !complete {
		return
	}
	for k, a := range s.alerts {
		if k.tenant != r.Tenant || k.rule != r.ID {
			continue
		}
		if _, seen := obs[k.group]; seen {
			continue
		}
		if r.Kind.task() {
			s.drop(ctx, k, a)
			continue
		}
		s.applyOne(ctx, r, k.group, observation{at: now, labels: a.Labels}, now)
	}
}

func (s *Service) applyOne(ctx context.Context, r *compiledRule, group string, o observation, now int64) {
	k := alertKey{r.Tenant, r.ID, group}
	old := s.alerts[k]
	if old == nil {
		if !o.active {
			return
		}
		old = &Alert{Tenant: r.Tenant, RuleID: r.ID, GroupKey: group, State: StateInactive}
	}
	next, t := step(*old, o, &r.Rule, now)
	if t != nil {
		sent, err := s.notify(ctx, r, &next, t)
		if err != nil {
			// Keep the old state: the next evaluation makes the same
			// transition, with the same notification id, and tries again.
			s.log.Error("cannot send a notification; retrying at the next evaluation", "tenant", r.Tenant, "rule", r.ID, "group", group, "err", err)
			return
		}
		if sent {
			next = told(next, t, &r.Rule, now)
		}
	}
	if _, ok := s.held[k]; ok && next.State != StateFiring {
		delete(s.held, k)
		s.log.Info("alert held back by a silence is over without being told", "tenant", r.Tenant, "rule", r.ID, "group", group, "state", next.State)
	}
	if sameState(old, &next) {
		// Only the value or the wording moved: not worth a write.
		s.alerts[k] = &next
		return
	}
	if next.State == StateInactive {
		s.drop(ctx, k, old)
		return
	}
	next.Version = nextVersion(old.Version)
	if err := s.putAlert(ctx, &next); err != nil {
		s.log.Error("cannot store an alert state", "tenant", r.Tenant, "rule", r.ID, "group", group, "err", err)
	}
	s.alerts[k] = &next
}

func (s *Service) putAlert(ctx context.Context, a *Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode alert state: %w", err)
	}
	return s.docs.PutDocuments(ctx, store.Document{
		Tenant: a.Tenant, Kind: kindAlert, ID: alertDocID(a.RuleID, a.GroupKey),
		Version: a.Version, Body: body, UpdatedAt: s.now().UnixMilli(),
	})
}

// drop forgets an alert and deletes its document.
func (s *Service) drop(ctx context.Context, k alertKey, a *Alert) {
	delete(s.alerts, k)
	delete(s.held, k)
	if a.Version == 0 {
		return
	}
	err := s.docs.PutDocuments(ctx, store.Document{
		Tenant: k.tenant, Kind: kindAlert, ID: alertDocID(k.rule, k.group),
		Version: nextVersion(a.Version), Body: []byte("{}"), UpdatedAt: s.now().UnixMilli(), Deleted: true,
	})
	if err != nil {
		s.log.Error("cannot delete an alert state", "tenant", k.tenant, "rule", k.rule, "group", k.group, "err", err)
	}
}

// sweep forgets alerts resolved before horizon and those whose rule is
// gone.
func (s *Service) sweep(ctx context.Context, live func(tenant, id string) bool, horizon int64) {
	s.alertsMu.Lock()
	defer s.alertsMu.Unlock()
	for k, a := range s.alerts {
		if !live(k.tenant, k.rule) || a.State == StateResolved && a.ResolvedAt < horizon {
			s.drop(ctx, k, a)
		}
	}
}

// alertsOf lists a tenant's alerts.
func (s *Service) alertsOf(tenant string) []Alert {
	s.alertsMu.Lock()
	defer s.alertsMu.Unlock()
	var out []Alert
	for k, a := range s.alerts {
		if k.tenant == tenant {
			out = append(out, *a)
		}
	}
	return out
}

// sameState reports whether a and b differ at most in what an evaluation
// refreshes every time (value, summary, labels).
func sameState(a, b *Alert) bool {
	return a.State == b.State && a.Since == b.Since && a.ActiveAt == b.ActiveAt && a.FiredAt == b.FiredAt &&
		a.ResolvedAt == b.ResolvedAt && a.NotifiedAt == b.NotifiedAt
}

// nextVersion is the version of the next put of a document at version
// old. It follows the clock rather than counting, because a deleted
// document keeps its version: a document made again under the same id
// (a rule, an alert that fires again) must outrank its tombstone.
func nextVersion(old int64) int64 {
	return max(old+1, time.Now().UnixMicro())
}
