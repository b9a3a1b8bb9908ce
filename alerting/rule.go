package alerting

import (
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Kind names what a rule watches.
type Kind string

// The rule kinds. Task kinds are evaluated on every progress event and on
// a short ticker; the others query the store on the rule's interval.
const (
	KindMetricThreshold Kind = "metric_threshold"
	KindErrorLogRate    Kind = "error_log_rate"
	KindTaskFailed      Kind = "task_failed"
	KindTaskStalled     Kind = "task_stalled"
	KindTaskSlow        Kind = "task_slow"
	// KindControlUnacknowledged fires while a task's control request
	// (cancel, pause, resume) has passed its deadline unacknowledged and
	// the task has not ended.
	KindControlUnacknowledged Kind = "control_unacknowledged"
)

var kinds = []Kind{KindMetricThreshold, KindErrorLogRate, KindTaskFailed, KindTaskStalled, KindTaskSlow, KindControlUnacknowledged}

// task reports whether k is evaluated over tasks rather than by a query.
func (k Kind) task() bool {
	return k == KindTaskFailed || k == KindTaskStalled || k == KindTaskSlow || k == KindControlUnacknowledged
}

// Op compares a value with a threshold.
type Op string

// The comparison operators.
const (
	OpGT Op = ">"
	OpGE Op = ">="
	OpLT Op = "<"
	OpLE Op = "<="
)

func (o Op) holds(v, threshold float64) bool {
	switch o {
	case OpGT:
		return v > threshold
	case OpGE:
		return v >= threshold
	case OpLT:
		return v < threshold
	case OpLE:
		return v <= threshold
	}
	panic("BUG: unknown op " + string(o))
}

// Where rules come from.
const (
	SourceFile = "file"
	SourceAPI  = "api"
)

// Params are the kind-specific settings of a rule; Validate says which a
// kind needs.
type Params struct {
	// metric_threshold: the metric, its aggregation over the window, and
	// the labels whose values make one alert each.
	Metric  string            `json:"metric,omitempty" yaml:"metric"`
	Agg     store.Aggregation `json:"agg,omitempty" yaml:"agg"`
	GroupBy []string          `json:"group_by,omitempty" yaml:"group_by"`

	// metric_threshold and error_log_rate: the value over Window compared
	// by Op with Threshold. A firing alert resolves only once the value
	// no longer passes Recovery (Threshold when unset), so a value
	// hovering at the limit does not flap.
	Window    Duration `json:"window,omitempty" yaml:"window"`
	Op        Op       `json:"op,omitempty" yaml:"op"`
	Threshold *float64 `json:"threshold,omitempty" yaml:"threshold"`
	Recovery  *float64 `json:"recovery,omitempty" yaml:"recovery"`

	// error_log_rate: the lowest level counted (ERROR when unset) and the
	// source logged from (any when unset).
	MinLevel schema.Level `json:"min_level,omitempty" yaml:"min_level"`
	Source   string       `json:"source,omitempty" yaml:"source"`

	// task_stalled: how long a running task may go without an update.
	StalledAfter Duration `json:"stalled_after,omitempty" yaml:"stalled_after"`

	// task_slow: a running task is slow once it has run MaxDuration, or
	// once, having run RateAfter (5m when unset), its progress per minute
	// is below MinRate.
	MaxDuration Duration `json:"max_duration,omitempty" yaml:"max_duration"`
	MinRate     *float64 `json:"min_rate,omitempty" yaml:"min_rate"`
	RateAfter   Duration `json:"rate_after,omitempty" yaml:"rate_after"`
}

// kindParams are the parameters each kind reads. Any other is refused
// rather than kept unchecked, where it would read as if it did something.
var kindParams = map[Kind][]string{
	KindMetricThreshold:       {"metric", "agg", "group_by", "window", "op", "threshold", "recovery"},
	KindErrorLogRate:          {"window", "op", "threshold", "recovery", "min_level", "source"},
	KindTaskFailed:            {},
	KindControlUnacknowledged: {},
	KindTaskStalled:           {"stalled_after"},
	KindTaskSlow:              {"max_duration", "min_rate", "rate_after"},
}

// given names the parameters p sets, as JSON spells them.
func (p *Params) given() []string {
	var names []string
	set := func(name string, ok bool) {
		if ok {
			names = append(names, name)
		}
	}
	set("metric", p.Metric != "")
	set("agg", p.Agg != "")
	set("group_by", p.GroupBy != nil)
	set("window", p.Window != 0)
	set("op", p.Op != "")
	set("threshold", p.Threshold != nil)
	set("recovery", p.Recovery != nil)
	set("min_level", p.MinLevel != "")
	set("source", p.Source != "")
	set("stalled_after", p.StalledAfter != 0)
	set("max_duration", p.MaxDuration != 0)
	set("min_rate", p.MinRate != nil)
	set("rate_after", p.RateAfter != 0)
	return names
}

// Rule says when to alert and whom to tell.
type Rule struct {
	ID     string `json:"id" yaml:"id"`
	Tenant string `json:"-" yaml:"tenant"`
	Name   string `json:"name" yaml:"name"`
	Kind   Kind   `json:"kind" yaml:"kind"`
	Params Params `json:"params" yaml:"params"`
	// Matchers select by metric label (metric_threshold), log attribute
	// (error_log_rate), or task attribute, task_type, user_id and
	// task_name (task kinds).
	Matchers []store.Matcher `json:"matchers,omitempty" yaml:"matchers"`
	// TaskType limits task kinds to one task_type.
	TaskType string          `json:"task_type,omitempty" yaml:"task_type"`
	Severity schema.Severity `json:"severity" yaml:"severity"`
	Channels []string        `json:"channels,omitempty" yaml:"channels"`
	// For is how long the condition must hold before the alert fires.
	For Duration `json:"for,omitempty" yaml:"for"`
	// Interval is how often a query rule is evaluated.
	Interval Duration `json:"interval,omitempty" yaml:"interval"`
	// RepeatInterval is how often a firing alert is notified again.
	RepeatInterval Duration `json:"repeat_interval,omitempty" yaml:"repeat_interval"`
	NotifyResolved bool     `json:"notify_resolved" yaml:"notify_resolved"`

	Source    string `json:"source" yaml:"-"`
	Version   int64  `json:"version" yaml:"-"`
	UpdatedAt int64  `json:"updated_at,omitempty" yaml:"-"`
}

// FieldError names a field of a rule (or channel) and what is wrong with
// it.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (e FieldError) Error() string { return e.Field + " " + e.Reason }

// ruleEnv is what a rule is checked against beyond itself.
type ruleEnv struct {
	// channels are the names the rule may use: for a rule of the file,
	// the file's channels; for one made through the API, the tenant's
	// own and the file's shared with it.
	channels  map[string]bool
	hasSeries bool
	hasLogs   bool
	// api marks a rule made through the API, held to tighter bounds than
	// the operator's file.
	api bool
}

var ruleID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

// aggregations are those a metric rule may use: rate is computed above
// the store and means nothing over a single bucket.
var aggregations = []store.Aggregation{store.AggAvg, store.AggMin, store.AggMax, store.AggSum, store.AggCount,
	store.AggLast, store.AggP50, store.AggP90, store.AggP95, store.AggP99}

// fillDefaults sets what a rule may leave out.
func (r *Rule) fillDefaults(cfg *Config) {
	if r.Name == "" {
		r.Name = r.ID
	}
	if r.Severity == "" {
		r.Severity = schema.SeverityWarning
	}
	if r.Interval == 0 && !r.Kind.task() {
		r.Interval = Duration(cfg.DefaultInterval)
	}
	if r.RepeatInterval == 0 {
		r.RepeatInterval = Duration(cfg.DefaultRepeatInterval)
	}
	switch r.Kind {
	case KindErrorLogRate:
		if r.Params.MinLevel == "" {
			r.Params.MinLevel = schema.LevelError
		}
		if r.Params.Op == "" {
			r.Params.Op = OpGT
		}
	case KindTaskSlow:
		if r.Params.MinRate != nil && r.Params.RateAfter == 0 {
			r.Params.RateAfter = Duration(defaultRateAfter)
		}
	}
}

// validate lists every problem of r, naming fields as the rules file and
// the API spell them.
func (r *Rule) validate(env ruleEnv) []FieldError {
	var errs []FieldError
	add := func(field, reason string) { errs = append(errs, FieldError{field, reason}) }
	if !ruleID.MatchString(r.ID) {
		add("id", "must be 1 to 128 letters, digits, '_', '.', ':' or '-', starting with a letter or digit")
	}
	if len(r.Name) > schema.MaxNameLen {
		add("name", "must be at most "+itoa(schema.MaxNameLen)+" bytes")
	}
	if len(r.TaskType) > schema.MaxNameLen {
		add("task_type", "must be at most "+itoa(schema.MaxNameLen)+" bytes")
	}
	if !r.Severity.Valid() {
		add("severity", "must be info, warning or critical")
	}
	r.validateChannels(add, env)
	checkDuration(add, "for", r.For, 0, maxRuleDuration)
	checkDuration(add, "repeat_interval", r.RepeatInterval, minRepeatInterval, maxRuleDuration)
	checkMatchers(add, "matchers", r.Matchers)
	if r.Kind.task() {
		if r.Interval != 0 {
			add("interval", "does not apply to task rules, which are evaluated on every event")
		}
	} else {
		lo := minInterval
		if env.api {
			lo = minAPIInterval
		}
		checkDuration(add, "interval", r.Interval, lo, maxInterval)
	}
	if !r.Kind.task() && r.TaskType != "" {
		add("task_type", "applies only to task rules")
	}
	for _, name := range r.Params.given() {
		if !slices.Contains(kindParams[r.Kind], name) {
			add("params."+name, "is not a parameter of "+string(r.Kind)+" rules")
		}
	}
	switch r.Kind {
	case KindMetricThreshold:
		if !env.hasSeries {
			add("kind", "metric_threshold needs a store that keeps metrics")
		}
		if r.Params.Metric == "" {
			add("params.metric", "is required")
		} else if len(r.Params.Metric) > schema.MaxNameLen {
			add("params.metric", "must be at most "+itoa(schema.MaxNameLen)+" bytes")
		}
		if len(r.Params.GroupBy) > maxGroupBy {
			add("params.group_by", "must list at most "+itoa(maxGroupBy)+" labels")
		}
		for i, l := range r.Params.GroupBy {
			if l == "" || len(l) > maxMatcherName {
				add("params.group_by["+itoa(i)+"]", "must be 1 to "+itoa(maxMatcherName)+" bytes")
			}
		}
		if !slices.Contains(aggregations, r.Params.Agg) {
			add("params.agg", "must be one of avg, min, max, sum, count, last, p50, p90, p95, p99")
		}
		r.validateThreshold(add)
	case KindErrorLogRate:
		if !env.hasLogs {
			add("kind", "error_log_rate needs a store that keeps logs")
		}
		if !r.Params.MinLevel.Valid() {
			add("params.min_level", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
		}
		if r.Params.Op != OpGT && r.Params.Op != OpGE {
			add("params.op", "must be > or >= for a log count")
		}
		if len(r.Params.Source) > schema.MaxNameLen {
			add("params.source", "must be at most "+itoa(schema.MaxNameLen)+" bytes")
		}
		r.validateThreshold(add)
		// An evaluation reads as many records as the threshold.
		if t := r.Params.Threshold; t != nil && (*t < 0 || *t > maxLogThreshold) {
			add("params.threshold", "must be from 0 to "+itoa(maxLogThreshold)+" for a log count")
		}
	case KindTaskFailed, KindControlUnacknowledged:
	case KindTaskStalled:
		if r.Params.StalledAfter <= 0 {
			add("params.stalled_after", "is required and must be positive")
		} else {
			checkDuration(add, "params.stalled_after", r.Params.StalledAfter, 0, maxRuleDuration)
		}
	case KindTaskSlow:
		if r.Params.MaxDuration <= 0 && r.Params.MinRate == nil {
			add("params", "task_slow needs max_duration or min_rate")
		}
		checkDuration(add, "params.max_duration", r.Params.MaxDuration, 0, maxRuleDuration)
		if m := r.Params.MinRate; m != nil && !(*m > 0 && !math.IsInf(*m, 0)) {
			add("params.min_rate", "must be a positive number of percent per minute")
		}
		checkDuration(add, "params.rate_after", r.Params.RateAfter, 0, maxRuleDuration)
	case "":
		add("kind", "is required")
	default:
		add("kind", "must be one of "+joinKinds())
	}
	return errs
}

func (r *Rule) validateThreshold(add func(string, string)) {
	p := &r.Params
	if p.Window <= 0 {
		add("params.window", "is required and must be positive")
	} else {
		checkDuration(add, "params.window", p.Window, 0, maxWindow)
	}
	switch p.Op {
	case OpGT, OpGE, OpLT, OpLE:
	default:
		add("params.op", "must be one of >, >=, <, <=")
		return
	}
	if p.Threshold == nil || math.IsNaN(*p.Threshold) || math.IsInf(*p.Threshold, 0) {
		add("params.threshold", "is required and must be a finite number")
		return
	}
	if p.Recovery == nil {
		return
	}
	if math.IsNaN(*p.Recovery) || math.IsInf(*p.Recovery, 0) {
		add("params.recovery", "must be a finite number")
		return
	}
	// The recovery level must lie on the safe side of the threshold, or
	// the alert would resolve while still over its limit.
	above := p.Op == OpGT || p.Op == OpGE
	if above && *p.Recovery > *p.Threshold || !above && *p.Recovery < *p.Threshold {
		add("params.recovery", "must be on the resolved side of the threshold (<= it for > and >=, >= it for < and <=)")
	}
}

// validateChannels reports channels the rule may not use, in words that
// do not tell whether the name exists for someone else.
func (r *Rule) validateChannels(add func(string, string), env ruleEnv) {
	if len(r.Channels) > maxChannelsPerRule {
		add("channels", "must list at most "+itoa(maxChannelsPerRule)+" channels")
		return
	}
	reason := "names no configured channel: "
	if env.api {
		reason = "names no channel this tenant may use: "
	}
	for i, c := range r.Channels {
		switch {
		case !channelName.MatchString(c):
			add("channels["+itoa(i)+"]", "must be a channel name: letters, digits, '_', '.' or '-', at most 128")
		case !env.channels[c]:
			add("channels["+itoa(i)+"]", reason+c)
		case slices.Contains(r.Channels[:i], c):
			add("channels["+itoa(i)+"]", "is listed twice")
		}
	}
}

func joinKinds() string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
