package alerting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
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
func (e *evaluator) loadAlerts(ctx context.Context) error {
	docs, err := e.docs.Documents(ctx, "", kindAlert)
	if err != nil {
		return fmt.Errorf("load alert states: %w", err)
	}
	loaded := map[alertKey]*Alert{}
	for _, d := range docs {
		var a Alert
		if err := json.Unmarshal(d.Body, &a); err != nil {
			e.log.Warn("skipping an alert state that does not decode", "id", d.ID, "err", err)
			continue
		}
		a.Tenant, a.Version = d.Tenant, d.Version
		loaded[alertKey{a.Tenant, a.RuleID, a.GroupKey}] = &a
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, a := range loaded {
		e.alerts[k] = a
	}
	return nil
}

// move is what one evaluation does to one alert: planned under e.mu from
// the alert as found, carried out (store, silences, notify) without the
// lock, then committed under it.
type move struct {
	key   alertKey
	found *Alert // the alert planned from, as held in e.alerts; nil when new
	old   Alert  // found, or the inactive alert a new one starts from
	next  Alert
	t     *transition // the transition to tell, if any
	// forget drops the alert without a word: a task rule's forgotten
	// task, or the sweep.
	forget bool
	// held is the transition a silence holds back, as found and then as
	// carried out.
	held *transition

	keep bool // the notification could not go out: the alert stays as found
	gone bool // the alert is over: forget it
}

// apply moves the alerts of r by what one evaluation observed, at time
// now. With complete, obs covers every group the rule has, so an alert
// missing from it is over: a query rule's resolves; a task rule's task
// has been forgotten, and its alert is dropped without a word.
//
// Only one goroutine evaluates a rule (the task loop, or the rule's own
// query loop), so no other evaluation moves its alerts between plan and
// commit; the sweep may, and then the sweep wins.
func (e *evaluator) apply(ctx context.Context, r *compiledRule, obs map[string]observation, now int64, complete bool) {
	moves := e.plan(r, obs, now, complete)
	if len(moves) == 0 {
		return
	}
	e.carry(ctx, r, moves, now)
	e.commit(moves)
}

func (e *evaluator) plan(r *compiledRule, obs map[string]observation, now int64, complete bool) []*move {
	e.mu.Lock()
	defer e.mu.Unlock()
	var moves []*move
	add := func(group string, o observation) {
		k := alertKey{r.Tenant, r.ID, group}
		m := &move{key: k, found: e.alerts[k]}
		if m.found != nil {
			m.old = *m.found
		} else if o.active {
			m.old = Alert{Tenant: r.Tenant, RuleID: r.ID, GroupKey: group, State: StateInactive}
		} else {
			return
		}
		m.next, m.t = step(m.old, o, &r.Rule, now)
		if h, ok := e.held[k]; ok {
			m.held = &h
		}
		moves = append(moves, m)
	}
	for group, o := range obs {
		add(group, o)
	}
	if !complete {
		return moves
	}
	for k, a := range e.alerts {
		if k.tenant != r.Tenant || k.rule != r.ID {
			continue
		}
		if _, seen := obs[k.group]; seen {
			continue
		}
		if r.Kind.task() {
			moves = append(moves, &move{key: k, found: a, old: *a, forget: true})
			continue
		}
		add(k.group, observation{at: now, labels: a.Labels})
	}
	return moves
}

// carry does the I/O of moves: it tells the transitions (unless a
// silence holds them back) and stores the alerts that changed.
func (e *evaluator) carry(ctx context.Context, r *compiledRule, moves []*move, now int64) {
	var (
		silences []Silence
		silErr   error
		read     bool
	)
	for _, m := range moves {
		if m.forget {
			e.deleteAlert(ctx, m.key, &m.old)
			m.gone = true
			continue
		}
		if m.t != nil {
			if !read {
				silences, silErr = readSilences(ctx, e.docs, e.log, r.Tenant)
				read = true
			}
			if silErr != nil {
				e.cannotNotify(r, m, silErr)
				continue
			}
			if !e.tell(ctx, r, m, silences, now) {
				continue
			}
		}
		if m.held != nil && m.next.State != StateFiring {
			m.held = nil
			e.log.Info("alert held back by a silence is over without being told", "tenant", r.Tenant, "rule", r.ID, "group", m.key.group, "state", m.next.State)
		}
		switch {
		case sameState(&m.old, &m.next):
			// Only the value or the wording moved: not worth a write.
		case m.next.State == StateInactive:
			e.deleteAlert(ctx, m.key, &m.old)
			m.gone = true
		default:
			m.next.Version = nextVersion(m.old.Version)
			if err := e.putAlert(ctx, &m.next); err != nil {
				e.log.Error("cannot store an alert state", "tenant", r.Tenant, "rule", r.ID, "group", m.key.group, "err", err)
			}
		}
	}
}

// tell hands m's transition to notify unless a silence among silences
// holds it back. It returns false when the notification could not go
// out, and m is to be kept as found.
func (e *evaluator) tell(ctx context.Context, r *compiledRule, m *move, silences []Silence, now int64) bool {
	a, t := &m.next, m.t
	if silence := silencedBy(silences, a.Labels, e.now().UnixMilli()); silence != "" {
		// A held-back firing is due again at every evaluation: say so
		// once per transition, not every few seconds.
		if m.held == nil || *m.held != *t {
			m.held = t
			e.log.Info("notification held back by a silence", "tenant", a.Tenant, "rule", r.ID, "group", a.GroupKey,
				"transition", t.kind, "silence", silence)
		}
		return true
	}
	if m.held != nil {
		m.held = nil
		e.log.Info("silence no longer holds the alert back", "tenant", a.Tenant, "rule", r.ID, "group", a.GroupKey, "transition", t.kind)
	}
	n := newNotification(r, a, t)
	if err := e.notify(ctx, &n); err != nil {
		e.cannotNotify(r, m, err)
		return false
	}
	e.log.Info("alert notification", "tenant", a.Tenant, "rule", r.ID, "group", a.GroupKey, "transition", t.kind, "id", n.ID)
	m.next = told(m.next, t, &r.Rule, now)
	return true
}

// cannotNotify keeps m's alert as found: the next evaluation makes the
// same transition, with the same notification id, and tries again.
func (e *evaluator) cannotNotify(r *compiledRule, m *move, err error) {
	m.keep = true
	e.log.Error("cannot send a notification; retrying at the next evaluation", "tenant", r.Tenant, "rule", r.ID, "group", m.key.group, "err", err)
}

// commit puts the outcome of moves in force, unless the sweep forgot an
// alert meanwhile.
func (e *evaluator) commit(moves []*move) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range moves {
		if e.alerts[m.key] != m.found {
			continue
		}
		if m.held != nil {
			e.held[m.key] = *m.held
		} else {
			delete(e.held, m.key)
		}
		switch {
		case m.keep:
		case m.gone:
			delete(e.alerts, m.key)
			delete(e.held, m.key)
		default:
			next := m.next
			e.alerts[m.key] = &next
		}
	}
}

func (e *evaluator) putAlert(ctx context.Context, a *Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode alert state: %w", err)
	}
	return e.docs.PutDocuments(ctx, store.Document{
		Tenant: a.Tenant, Kind: kindAlert, ID: alertDocID(a.RuleID, a.GroupKey),
		Version: a.Version, Body: body, UpdatedAt: e.now().UnixMilli(),
	})
}

// deleteAlert deletes an alert's document, if it was ever stored.
func (e *evaluator) deleteAlert(ctx context.Context, k alertKey, a *Alert) {
	if a.Version == 0 {
		return
	}
	err := e.docs.PutDocuments(ctx, store.Document{
		Tenant: k.tenant, Kind: kindAlert, ID: alertDocID(k.rule, k.group),
		Version: nextVersion(a.Version), Body: []byte("{}"), UpdatedAt: e.now().UnixMilli(), Deleted: true,
	})
	if err != nil {
		e.log.Error("cannot delete an alert state", "tenant", k.tenant, "rule", k.rule, "group", k.group, "err", err)
	}
}

// sweep forgets alerts resolved before horizon and those whose rule is
// gone. It forgets them first and deletes their documents after, so an
// evaluation that moved one meanwhile finds it gone and starts afresh.
func (e *evaluator) sweep(ctx context.Context, live func(tenant, id string) bool, horizon int64) {
	e.mu.Lock()
	gone := map[alertKey]*Alert{}
	for k, a := range e.alerts {
		if !live(k.tenant, k.rule) || a.State == StateResolved && a.ResolvedAt < horizon {
			gone[k] = a
			delete(e.alerts, k)
			delete(e.held, k)
		}
	}
	e.mu.Unlock()
	for k, a := range gone {
		e.deleteAlert(ctx, k, a)
	}
}

// alertsOf lists a tenant's alerts.
func (e *evaluator) alertsOf(tenant string) []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Alert
	for k, a := range e.alerts {
		if k.tenant == tenant {
			out = append(out, *a)
		}
	}
	return out
}

// alertView is an alert as the API answers it: with whether a silence
// holds back its notifications now, and which one.
type alertView struct {
	Alert
	Silenced   bool   `json:"silenced"`
	SilencedBy string `json:"silenced_by,omitempty"`
}

// silenceAlerts says of each of a tenant's alerts whether a silence
// active at now holds it. The silences are read from the store, as the
// evaluator reads them before every notification, so the answer is the
// same on every alerting process.
func silenceAlerts(ctx context.Context, docs store.DocumentStore, log *slog.Logger, tenant string, alerts []Alert, now int64) ([]alertView, error) {
	silences, err := readSilences(ctx, docs, log, tenant)
	if err != nil {
		return nil, err
	}
	views := make([]alertView, len(alerts))
	for i, a := range alerts {
		id := silencedBy(silences, a.Labels, now)
		views[i] = alertView{Alert: a, Silenced: id != "", SilencedBy: id}
	}
	return views, nil
}

// alertState is where the alert of k stands.
func (e *evaluator) alertState(k alertKey) State {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a := e.alerts[k]; a != nil {
		return a.State
	}
	return StateInactive
}

// countByState counts the alerts in each state, for the metrics.
func (e *evaluator) countByState() map[State]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	counts := map[State]int{}
	for _, a := range e.alerts {
		counts[a.State]++
	}
	return counts
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
