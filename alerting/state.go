package alerting

// State is where an alert stands.
type State string

// The alert states. An alert is pending while its condition holds for less
// than the rule's For, firing after, and resolved once the condition ends;
// a pending alert whose condition ends goes back to inactive without
// anyone being told.
const (
	StateInactive State = "inactive"
	StatePending  State = "pending"
	StateFiring   State = "firing"
	StateResolved State = "resolved"
)

var states = []State{StateInactive, StatePending, StateFiring, StateResolved}

// Alert is the state of one rule for one group key (a task, a label set).
// Every time in it is derived from the data (an event's timestamp, a
// query's slot), not from the clock of the process that evaluated it, so
// that two processes evaluating the same data reach the same alert and the
// same notifications.
type Alert struct {
	Tenant   string            `json:"-"`
	RuleID   string            `json:"rule_id"`
	GroupKey string            `json:"group_key"`
	Labels   map[string]string `json:"labels,omitempty"`
	State    State             `json:"state"`
	// Since is when the current state began, unix ms.
	Since int64 `json:"since"`
	// ActiveAt is when the condition started to hold, FiredAt when the
	// alert fired, ResolvedAt when it resolved.
	ActiveAt   int64 `json:"active_at,omitempty"`
	FiredAt    int64 `json:"fired_at,omitempty"`
	ResolvedAt int64 `json:"resolved_at,omitempty"`
	// NotifiedAt is the time of the last firing notification sent (its
	// transition's time); 0 while the firing has not been told, for
	// instance because a silence held it back.
	NotifiedAt int64    `json:"notified_at,omitempty"`
	Value      *float64 `json:"value,omitempty"`
	Summary    string   `json:"summary,omitempty"`
	TaskID     string   `json:"task_id,omitempty"`
	UserID     string   `json:"user_id,omitempty"`

	Version int64 `json:"-"`
}

// observation is what one evaluation found for one group key.
type observation struct {
	active bool
	// at is when the condition started to hold (active) or stopped
	// holding (not active).
	at      int64
	labels  map[string]string
	value   *float64
	summary string
	taskID  string
	userID  string
}

// Transitions a notification is made for.
const (
	transFiring   = "firing"
	transRepeat   = "repeat"
	transResolved = "resolved"
)

// transition is a change worth telling: its kind and its time.
type transition struct {
	kind string
	at   int64
}

// step moves a by one observation at time now and returns the
// notification it calls for, if any. It is pure: callers apply the new
// state only once the notification is safely on its way.
func step(a Alert, o observation, r *Rule, now int64) (Alert, *transition) {
	if o.active || a.State == StateFiring || a.State == StatePending {
		a.Labels, a.Value, a.Summary = o.labels, o.value, o.summary
		a.TaskID, a.UserID = o.taskID, o.userID
	}
	switch a.State {
	case StateInactive, StateResolved, "":
		if !o.active {
			return a, nil
		}
		a.State, a.Since, a.ActiveAt = StatePending, o.at, o.at
		a.FiredAt, a.ResolvedAt, a.NotifiedAt = 0, 0, 0
		return promote(a, r, now)
	case StatePending:
		if !o.active {
			a.State, a.Since, a.ActiveAt = StateInactive, o.at, 0
			return a, nil
		}
		return promote(a, r, now)
	case StateFiring:
		if !o.active {
			told := a.NotifiedAt != 0
			a.State, a.Since, a.ResolvedAt = StateResolved, o.at, o.at
			if told && r.NotifyResolved {
				return a, &transition{transResolved, o.at}
			}
			return a, nil
		}
		return a, due(a, r, now)
	}
	panic("BUG: unknown alert state " + string(a.State))
}

// promote fires a pending alert whose condition has held for the rule's
// For.
func promote(a Alert, r *Rule, now int64) (Alert, *transition) {
	firesAt := a.ActiveAt + r.For.D().Milliseconds()
	if now < firesAt {
		return a, nil
	}
	a.State, a.Since, a.FiredAt = StateFiring, firesAt, firesAt
	return a, &transition{transFiring, firesAt}
}

// due returns the notification a firing alert owes: its firing, if that
// was never told, or a repeat once RepeatInterval has passed since the
// last one. Repeats fall on FiredAt + k*RepeatInterval, so they are the
// same for every process.
func due(a Alert, r *Rule, now int64) *transition {
	if a.NotifiedAt == 0 {
		return &transition{transFiring, a.FiredAt}
	}
	every := r.RepeatInterval.D().Milliseconds()
	k := (now - a.FiredAt) / every
	if slot := a.FiredAt + k*every; k >= 1 && slot > a.NotifiedAt {
		return &transition{transRepeat, slot}
	}
	return nil
}

// told records that t's notification went out (or was deliberately not
// sent because nobody asked for it).
func told(a Alert, t *transition, r *Rule, now int64) Alert {
	if t.kind == transResolved {
		return a
	}
	// A firing told late (after a silence) counts as the latest repeat
	// slot too, so it is not followed at once by a repeat.
	every := r.RepeatInterval.D().Milliseconds()
	slot := t.at
	if k := (now - a.FiredAt) / every; k >= 1 {
		slot = max(slot, a.FiredAt+k*every)
	}
	a.NotifiedAt = slot
	return a
}
